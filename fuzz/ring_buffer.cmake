gnet_fuzz_target(ring_buffer SOURCES ${CMAKE_CURRENT_LIST_DIR}/ring_buffer.cpp LIBS gnet::gnet)
