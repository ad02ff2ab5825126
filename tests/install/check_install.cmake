# cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMER=... -DFLAGS=... -P check_install.cmake
# Installs the built library into a scratch prefix, then builds and runs a consumer twice:
# through find_package(gnet) and through pkg-config.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
foreach(f include/gnet/gnet.hpp lib/libgnet.a lib/cmake/gnet/gnetConfig.cmake lib/pkgconfig/gnet.pc)
  if(NOT EXISTS ${WORK_DIR}/prefix/${f})
    message(FATAL_ERROR "install is missing ${f}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK_DIR}/cmake-build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    "-DCMAKE_CXX_FLAGS=${FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run(${WORK_DIR}/cmake-build/consumer)
if(NOT last_output MATCHES "consumer got: hello")
  message(FATAL_ERROR "find_package consumer: unexpected output: ${last_output}")
endif()

set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/lib/pkgconfig)
run(pkg-config --cflags --libs gnet)
string(STRIP "${last_output}" pc_flags)
separate_arguments(pc_list UNIX_COMMAND "${pc_flags}")
separate_arguments(extra UNIX_COMMAND "${FLAGS}")
run(c++ ${extra} ${CONSUMER}/main.cpp -o ${WORK_DIR}/pc-consumer ${pc_list})
run(${WORK_DIR}/pc-consumer)
if(NOT last_output MATCHES "consumer got: hello")
  message(FATAL_ERROR "pkg-config consumer: unexpected output: ${last_output}")
endif()
message(STATUS "installed gnet works through find_package and pkg-config")
