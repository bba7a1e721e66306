# Install rules and the CMake package: `find_package(cidrot CONFIG REQUIRED)` from an install
# prefix gives cidrot::cidrot. Included by the root CMakeLists.txt when CIDROT_INSTALL is ON, after
# every subdirectory, so the link interface of `cidrot` is complete here.
#
# A static cidrot (the default) carries its private link dependencies into the consumer's link
# line, so the installed cidrotConfig.cmake must find them again. Which ones is read from the
# target itself (following project-internal helper targets), so a backend that starts linking a
# new library cannot silently produce a package that fails to link: an imported target this file
# does not know how to find again stops the configure.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CIDROT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/cidrot"
    CACHE STRING "Where cidrotConfig.cmake is installed, relative to the prefix")
mark_as_advanced(CIDROT_INSTALL_CMAKEDIR)

# _cidrot_link_closure(<target> <out_imported> <out_internal>): the imported targets `target`
# links to (directly or through non-imported targets of this project) and those internal targets.
# BUILD_INTERFACE-only items never reach an installed consumer and are skipped.
function(_cidrot_link_closure target out_imported out_internal)
  set(queue ${target})
  set(seen)
  set(imported)
  set(internal)
  while(queue)
    list(POP_FRONT queue current)
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    get_target_property(items ${current} LINK_LIBRARIES)
    get_target_property(iface ${current} INTERFACE_LINK_LIBRARIES)
    foreach(item IN LISTS items iface)
      # "::@(dir)"/"::@" bracket items that target_link_libraries() added from another directory.
      if(NOT item OR item MATCHES "^\\$<BUILD_INTERFACE:" OR item MATCHES "^::@")
        continue()
      endif()
      # $<LINK_ONLY:x>, $<INSTALL_INTERFACE:x>, $<$<CONFIG:..>:x> -> x (conservative: a dependency
      # needed in some configuration is found in all of them).
      string(REGEX REPLACE "^(\\$<[^:]*:)+" "" item "${item}")
      string(REGEX REPLACE ">+$" "" item "${item}")
      if(NOT TARGET ${item})
        # An imported target created in a subdirectory is not visible here, but the export still
        # names it; anything else is a plain library name or flag the linker finds as before.
        if(item MATCHES "::")
          list(APPEND imported ${item})
        endif()
        continue()
      endif()
      get_target_property(aliased ${item} ALIASED_TARGET)
      get_target_property(is_imported ${item} IMPORTED)
      if(is_imported)
        if(aliased)
          set(item ${aliased})  # install(EXPORT) writes the real name of an imported target
        endif()
        list(APPEND imported ${item})
      else()
        if(aliased)
          set(item ${aliased})
        endif()
        if(NOT item STREQUAL target)
          list(APPEND internal ${item})
        endif()
        list(APPEND queue ${item})
      endif()
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES imported)
  list(REMOVE_DUPLICATES internal)
  set(${out_imported} "${imported}" PARENT_SCOPE)
  set(${out_internal} "${internal}" PARENT_SCOPE)
endfunction()

get_target_property(_cidrot_type cidrot TYPE)
if(_cidrot_type STREQUAL "STATIC_LIBRARY")
  set(CIDROT_PACKAGE_STATIC TRUE)
else()
  set(CIDROT_PACKAGE_STATIC FALSE)
endif()
# Mirrors storage/registry.cpp's table (memory always; unix:// and postgres:// are aliases).
set(CIDROT_PACKAGE_BACKENDS memory)
foreach(_b SQLITE:sqlite REDIS:redis POSTGRES:postgresql)
  string(REPLACE ":" ";" _b "${_b}")
  list(GET _b 0 _opt)
  list(GET _b 1 _scheme)
  if(CIDROT_WITH_${_opt})
    list(APPEND CIDROT_PACKAGE_BACKENDS ${_scheme})
  endif()
endforeach()
set(CIDROT_PACKAGE_DEPENDENCIES "")
set(CIDROT_PACKAGE_HIREDIS_TARGET "")
set(_cidrot_internal "")
if(_cidrot_type STREQUAL "STATIC_LIBRARY")
  _cidrot_link_closure(cidrot _cidrot_imported _cidrot_internal)
  # Each flag below becomes one find_dependency block in cidrotConfig.cmake.
  foreach(dep IN LISTS _cidrot_imported)
    if(dep STREQUAL "Threads::Threads")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES Threads)
    elseif(dep MATCHES "^Boost::")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES Boost)
    elseif(dep MATCHES "^date::")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES date)
    elseif(dep STREQUAL "SQLiteCpp")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES SQLiteCpp)
    elseif(dep STREQUAL "SQLite::SQLite3")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES SQLite3)
    elseif(dep STREQUAL "hiredis::hiredis" OR dep STREQUAL "PkgConfig::HIREDIS")
      # The export names the target behind the alias: PkgConfig::HIREDIS when the build found
      # hiredis with pkg-config (Debian), hiredis::hiredis when it found a CMake package (Conan).
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES hiredis)
      set(CIDROT_PACKAGE_HIREDIS_TARGET ${dep})
    elseif(dep STREQUAL "PostgreSQL::PostgreSQL")
      list(APPEND CIDROT_PACKAGE_DEPENDENCIES PostgreSQL)
    else()
      message(FATAL_ERROR
              "cidrot links ${dep}, which cmake/cidrotConfig.cmake.in does not know how to find "
              "for consumers of the installed static library; add it there and in "
              "cmake/CidrotInstall.cmake")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES CIDROT_PACKAGE_DEPENDENCIES)
endif()

# Internal helper targets (e.g. a backend built as an OBJECT library) must be in the export set
# because the static library's link interface names them; they contribute usage requirements only.
install(TARGETS cidrot ${_cidrot_internal}
  EXPORT cidrotTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  OBJECTS DESTINATION ${CMAKE_INSTALL_LIBDIR}/cidrot-objects)
# "include", not CMAKE_INSTALL_INCLUDEDIR: it must match the target's $<INSTALL_INTERFACE:include>.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libcidrot/include/cidrot
        DESTINATION include FILES_MATCHING PATTERN "*.h")
install(EXPORT cidrotTargets NAMESPACE cidrot:: DESTINATION ${CIDROT_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cidrotConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cidrotConfig.cmake INSTALL_DESTINATION ${CIDROT_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cidrotConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cidrotConfig.cmake ${PROJECT_BINARY_DIR}/cidrotConfigVersion.cmake
        DESTINATION ${CIDROT_INSTALL_CMAKEDIR})
