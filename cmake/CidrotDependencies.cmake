# Finds third-party dependencies the same way on Debian's packages and under Conan's CMakeDeps.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)  # header-only parts: JSON, URL (via src.hpp), Beast, Asio
find_package(date CONFIG REQUIRED)        # Howard Hinnant's date/tz over the system tzdata

if(NOT TARGET date::date-tz)
  message(FATAL_ERROR "date was found without its tz library (date::date-tz)")
endif()

if(CIDROT_WITH_SQLITE)
  find_package(SQLiteCpp CONFIG REQUIRED)
endif()

if(CIDROT_WITH_REDIS)
  # Conan's CMakeDeps provides hiredis::hiredis; Debian ships only a pkg-config file.
  find_package(hiredis CONFIG QUIET)
  if(NOT TARGET hiredis::hiredis)
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
    add_library(hiredis::hiredis ALIAS PkgConfig::HIREDIS)
  endif()
endif()

if(CIDROT_WITH_POSTGRES)
  find_package(PostgreSQL REQUIRED)
endif()
