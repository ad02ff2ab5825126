gnet_fuzz_target(outbound_queue SOURCES ${CMAKE_CURRENT_LIST_DIR}/outbound_queue.cpp LIBS gnet::gnet)
