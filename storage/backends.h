// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private: the factory of each compiled backend. Only registry.cpp calls these.
#ifndef CIDROT_STORAGE_BACKENDS_H_
#define CIDROT_STORAGE_BACKENDS_H_

#include <memory>
#include <string>

#include "cidrot/store.h"

namespace cidrot::storage {

std::shared_ptr<Store> open_memory_store(const std::string& url);
#ifdef CIDROT_HAVE_SQLITE
std::shared_ptr<Store> open_sqlite_store(const std::string& url);
#endif
#ifdef CIDROT_HAVE_REDIS
std::shared_ptr<Store> open_redis_store(const std::string& url);  // redis:// and unix://
#endif
#ifdef CIDROT_HAVE_POSTGRES
std::shared_ptr<Store> open_postgres_store(const std::string& url);  // postgresql://, postgres://
#endif

}  // namespace cidrot::storage

#endif  // CIDROT_STORAGE_BACKENDS_H_
