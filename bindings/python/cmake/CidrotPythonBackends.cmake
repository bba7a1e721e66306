# Resolves CIDROT_WITH_REDIS / CIDROT_WITH_POSTGRES = AUTO for `pip install .`.
#
# pyproject.toml passes this file as CMAKE_PROJECT_cidrot_INCLUDE, so it runs at the end of the
# root project() call, before the root CMakeLists.txt declares its options. A backend set to AUTO
# is turned ON when its library is installed (and its sources are present), OFF otherwise, so a
# machine without hiredis or libpq still builds the module; ON and OFF are left as the user gave
# them (ON then requires the library, as in any other build).

foreach(_cidrot_backend REDIS POSTGRES)
  set(_var CIDROT_WITH_${_cidrot_backend})
  if(NOT DEFINED ${_var})
    continue()
  endif()
  string(TOUPPER "${${_var}}" _value)
  if(NOT _value STREQUAL "AUTO")
    continue()
  endif()

  set(_found FALSE)
  if(_cidrot_backend STREQUAL "REDIS")
    set(_dir storage/redis)
    find_package(hiredis CONFIG QUIET)
    if(TARGET hiredis::hiredis)
      set(_found TRUE)
    else()
      find_package(PkgConfig QUIET)
      if(PKG_CONFIG_FOUND)
        pkg_check_modules(_CIDROT_AUTO_HIREDIS QUIET hiredis)
        set(_found ${_CIDROT_AUTO_HIREDIS_FOUND})
      endif()
    endif()
  else()
    set(_dir storage/postgres)
    find_package(PostgreSQL QUIET)
    set(_found ${PostgreSQL_FOUND})
  endif()
  if(_found AND NOT EXISTS "${PROJECT_SOURCE_DIR}/${_dir}/CMakeLists.txt")
    message(STATUS "cidrot: ${_var}=AUTO: library found but ${_dir} is not in this source tree")
    set(_found FALSE)
  endif()

  if(_found)
    set(${_var} ON CACHE BOOL "Resolved from AUTO: library found" FORCE)
  else()
    set(${_var} OFF CACHE BOOL "Resolved from AUTO: library not found" FORCE)
  endif()
  message(STATUS "cidrot: ${_var}=AUTO -> ${${_var}}")
endforeach()
unset(_var)
unset(_value)
unset(_found)
unset(_dir)
