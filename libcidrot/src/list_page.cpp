// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
#include "list_page.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace cidrot::detail {
namespace {

bool matches(const NumberState& st, const ListQuery& q) {
  const Number& n = st.number;
  if (!q.area_codes.empty()) {
    const auto npa = static_cast<std::uint16_t>(std::atoi(n.area_code.c_str()));
    if (std::find(q.area_codes.begin(), q.area_codes.end(), npa) == q.area_codes.end()) {
      return false;
    }
  }
  if (q.active && *q.active != n.active) return false;
  if (q.leased && *q.leased != (st.active_leases > 0)) return false;
  if (q.limited && *q.limited != (st.hourly_capped() || st.daily_capped())) return false;
  if (!q.caller_id_prefix.empty() &&
      n.caller_id.compare(0, q.caller_id_prefix.size(), q.caller_id_prefix) != 0) {
    return false;
  }
  // Numbers without campaigns serve every campaign.
  return q.campaign.empty() || n.campaigns.empty() ||
         std::find(n.campaigns.begin(), n.campaigns.end(), q.campaign) != n.campaigns.end();
}

std::int64_t metric(const NumberState& st, SortKey key) {
  switch (key) {
    case SortKey::kLastUsed:
      return to_unix_ms(st.last_used);
    case SortKey::kHourCount:
      return st.hour_count;
    case SortKey::kDayCount:
      return st.day_count;
    case SortKey::kTotalUses:
      return st.total_uses;
    case SortKey::kCallerId:
      return 0;
  }
  return 0;
}

}  // namespace

ListPage make_list_page(std::vector<NumberState> states, const ListQuery& q) {
  states.erase(std::remove_if(states.begin(), states.end(),
                              [&](const NumberState& st) { return !matches(st, q); }),
               states.end());
  std::sort(states.begin(), states.end(), [&](const NumberState& a, const NumberState& b) {
    const auto ma = metric(a, q.sort), mb = metric(b, q.sort);
    if (ma != mb) return q.descending ? ma > mb : ma < mb;
    return q.descending && q.sort == SortKey::kCallerId ? a.number.caller_id > b.number.caller_id
                                                        : a.number.caller_id < b.number.caller_id;
  });
  ListPage page;
  page.total = static_cast<std::int64_t>(states.size());
  const auto begin = std::min<std::int64_t>(std::max<std::int64_t>(q.offset, 0), page.total);
  const auto end = std::min<std::int64_t>(begin + std::max<std::int64_t>(q.limit, 0), page.total);
  for (auto i = begin; i < end; ++i) page.items.push_back(std::move(states[i]));
  return page;
}

}  // namespace cidrot::detail
