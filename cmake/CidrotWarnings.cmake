# cidrot_set_warnings(target): the project's warning set, errors when CIDROT_WERROR is ON.
function(cidrot_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${CIDROT_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                             $<$<BOOL:${CIDROT_WERROR}>:-Werror>)
  endif()
endfunction()
