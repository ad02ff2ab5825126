# examples/http: unit tests of the protocol code (no sockets), and end-to-end tests that start
# the real binary and talk to it with curl, raw sockets, wrk and h2load.
gnet_test(http_parser_test ${CMAKE_CURRENT_LIST_DIR}/http_parser_test.cpp LABELS unit)
target_link_libraries(http_parser_test PRIVATE gnet_example_http_core)

foreach(case curl pipeline malformed load shutdown chunk_ext_stuffing pipeline_100k
             static_stream amplifying_pipeline fifo symlink_escape dotfile slowloris metrics
             metrics_loops proxy_protocol)
  # 77: a client tool is missing (the script says which).
  gnet_backend_test(NAME example_http_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/http_e2e.py $<TARGET_FILE:http> ${case}
                    LABELS examples threaded TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()

# The scale-out recipe, short: four instances in network namespaces behind HAProxy (tcp mode,
# health checks, send-proxy-v2), wrk for 5 s per phase, one instance killed mid-run (about 20 s).
# `make test-scale` runs the long form on a Release build. 77: not root, or haproxy/wrk/curl/ip
# missing.
add_test(NAME scale_short
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/scale/scale_test.py $<TARGET_FILE:http> --duration 5)
set_tests_properties(scale_short PROPERTIES LABELS "examples;scale" TIMEOUT 120 SKIP_RETURN_CODE 77)
