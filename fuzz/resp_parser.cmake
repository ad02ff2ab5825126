gnet_fuzz_target(resp_parser SOURCES ${CMAKE_CURRENT_LIST_DIR}/resp_parser.cpp LIBS gnet_example_redis_core)
