# examples/redis: unit tests of RESP parsing, the commands and the key space (no sockets), and
# end-to-end tests that start the real binary and talk to it with redis-cli, raw sockets and
# redis-benchmark.
gnet_test(redis_resp_test ${CMAKE_CURRENT_LIST_DIR}/redis_resp_test.cpp LABELS unit)
target_link_libraries(redis_resp_test PRIVATE gnet_example_redis_core)
gnet_test(redis_limits_test ${CMAKE_CURRENT_LIST_DIR}/redis_limits_test.cpp LABELS unit)
target_link_libraries(redis_limits_test PRIVATE gnet_example_redis_core)
gnet_test(redis_alloc_test ${CMAKE_CURRENT_LIST_DIR}/redis_alloc_test.cpp LABELS unit)
target_link_libraries(redis_alloc_test PRIVATE gnet_example_redis_core)
# The test replaces the global operator new with a malloc-based one, so its free() in operator
# delete is matched; GCC 12 at -O2 (TSan, Release) inlines gtest's `new TestClass` and warns.
target_compile_options(redis_alloc_test PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
gnet_test(redis_keyspace_test ${CMAKE_CURRENT_LIST_DIR}/redis_keyspace_test.cpp LABELS threaded)
target_link_libraries(redis_keyspace_test PRIVATE gnet_example_redis_core)

foreach(case commands pipeline errors loops expiry limits amplify halfsent trickle benchmark
             shutdown)
  # 77: a client tool is missing (the script says which).
  gnet_backend_test(NAME example_redis_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/redis_e2e.py $<TARGET_FILE:redis> ${case}
                    LABELS examples threaded TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()

# The example against redis-server: one seeded random command stream to both, every reply
# compared byte for byte. 77: redis-server is not installed.
gnet_backend_test(NAME example_redis_differential
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/redis_differential.py $<TARGET_FILE:redis>
                  LABELS examples threaded TIMEOUT 120 SKIP_RETURN_CODE 77)
