// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: ListQuery semantics for stores that filter in process (memory, Redis).
#ifndef CIDROT_SRC_LIST_PAGE_H_
#define CIDROT_SRC_LIST_PAGE_H_

#include <vector>

#include "cidrot/types.h"

namespace cidrot::detail {

// Keeps the states that match every filter of `q` (campaign, area codes, active, leased,
// limited, caller_id prefix), orders them by q.sort (ties and kCallerId by caller_id, descending
// when asked) and returns the page at q.offset/q.limit with the total before paging.
ListPage make_list_page(std::vector<NumberState> states, const ListQuery& q);

}  // namespace cidrot::detail

#endif  // CIDROT_SRC_LIST_PAGE_H_
