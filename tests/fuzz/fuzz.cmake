# Fuzz harnesses (tests/fuzz/fuzz_*.c, one per parser of outside data), included by the top
# CMakeLists.txt. Every build makes fuzz_replay_<name> (the harness + replay_main.c) and the
# ctest test fuzz_regress, which replays the committed corpora and crash files through each
# harness without fuzzing. With -DSIAMESE_FUZZ=ON and CC=clang the build also makes the libFuzzer
# programs fuzz_<name> (scripts/fuzz.sh builds and runs them).
file(GLOB FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
set(FUZZ_PROGRAMS "")
foreach(fuzz_src ${FUZZ_SOURCES})
  get_filename_component(fuzz_name ${fuzz_src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" harness ${fuzz_name})
  add_executable(fuzz_replay_${harness} ${fuzz_src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_compile_definitions(fuzz_replay_${harness} PRIVATE _POSIX_C_SOURCE=200809L
    _XOPEN_SOURCE=700)
  target_link_libraries(fuzz_replay_${harness} PRIVATE siamese_internal)
  if(SIAMESE_FUZZ)
    add_executable(${fuzz_name} ${fuzz_src})
    target_compile_definitions(${fuzz_name} PRIVATE _POSIX_C_SOURCE=200809L _XOPEN_SOURCE=700)
    target_link_options(${fuzz_name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${fuzz_name} PRIVATE siamese_internal)
    list(APPEND FUZZ_PROGRAMS ${fuzz_name})
  endif()
endforeach()
if(SIAMESE_FUZZ)
  add_custom_target(fuzz_all DEPENDS ${FUZZ_PROGRAMS})
endif()
add_test(NAME fuzz_regress COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --replay
  ${CMAKE_BINARY_DIR})
set_tests_properties(fuzz_regress PROPERTIES TIMEOUT 300 LABELS unit)
