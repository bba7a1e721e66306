// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to cidrot-server: names the calling thread for `top -H`, `perf` and `gdb`.
#ifndef CIDROT_SERVER_THREAD_NAME_H_
#define CIDROT_SERVER_THREAD_NAME_H_

#ifdef __linux__
#include <pthread.h>
#endif

namespace cidrot::server {

// `name`: at most 15 characters (Linux's limit). Does nothing on other systems.
inline void name_this_thread(const char* name) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_THREAD_NAME_H_
