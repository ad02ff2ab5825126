# examples/fetch (libcurl) and examples/resolve (c-ares): descriptors the loop does not own,
# driven through Loop::watch and loop timers, end to end against a real HTTP server (the http
# example) and a DNS server in the script. Each example's cases are registered only when it is
# built (its library may be missing: see examples/fetch and examples/resolve); the script takes
# "-" for a binary its case does not use.
set(foreign_cases "")
set(foreign_fetch -)
set(foreign_resolve -)
set(foreign_http -)
if(TARGET fetch AND TARGET http)
  list(APPEND foreign_cases fetch_files fetch_errors)
  set(foreign_fetch $<TARGET_FILE:fetch>)
  set(foreign_http $<TARGET_FILE:http>)
else()
  message(STATUS "tests/examples/foreign.cmake: fetch not built, its tests are skipped")
endif()
if(TARGET resolve)
  list(APPEND foreign_cases resolve_names resolve_errors)
  set(foreign_resolve $<TARGET_FILE:resolve>)
else()
  message(STATUS "tests/examples/foreign.cmake: resolve not built, its tests are skipped")
endif()
foreach(case ${foreign_cases})
  gnet_backend_test(NAME example_foreign_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/foreign_e2e.py
                            ${foreign_fetch} ${foreign_resolve} ${foreign_http} ${case}
                    LABELS examples threaded TIMEOUT 300)
endforeach()
