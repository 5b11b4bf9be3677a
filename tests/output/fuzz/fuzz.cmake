# SPDX-License-Identifier: MIT
# libFuzzer support shared by tests/*/CMakeLists.txt (included by each; the first
# include wins). With clang and -DEMBER_FUZZ=ON:
#   CC=clang cmake -S . -B build-fuzz -DEMBER_FUZZ=ON -DEMBER_SANITIZE=ON
# builds one fuzz_* binary per target. Run each on a copy of its corpus, then
# fold what it found back in, minimized:
#   fuzz_X -max_total_time=300 -close_fd_mask=2 /tmp/corpus-X
#   fuzz_X -merge=1 tests/.../fuzz/corpus /tmp/corpus-X
# (-close_fd_mask=2 drops the one error line a reader logs per rejected input;
# libFuzzer's and the sanitizers' reports still print. For the ELF targets add
# -use_counters=0 to the merge: it keeps one input per new edge, so the corpus
# stays under 2 MB.)
#
# libFuzzer only sees edges in code compiled with -fsanitize=fuzzer(-no-link):
# a harness over an uninstrumented library reaches a dozen edges and then
# mutates blindly. So each fuzz target links an instrumented copy of its
# library (ember_X_fuzz, and of every ember_* library under it), while ember,
# the unit tests and the corpus replay drivers keep the plain libraries and
# build with any compiler, with or without EMBER_SANITIZE.
include_guard(GLOBAL)

option(EMBER_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(EMBER_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "EMBER_FUZZ needs clang (CC=clang)")
endif()

# ember_fuzz_library(LIB): defines LIB_fuzz, LIB's sources compiled with
# -fsanitize=fuzzer-no-link, linked to the _fuzz copies of LIB's ember_*
# libraries. Generated sources are built by LIB itself (a dependency), so
# the copy compiles the same files.
function(ember_fuzz_library lib)
  if(TARGET ${lib}_fuzz)
    return()
  endif()
  get_target_property(dir ${lib} SOURCE_DIR)
  get_target_property(srcs ${lib} SOURCES)
  set(abs)
  foreach(s IN LISTS srcs)
    cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${dir} OUTPUT_VARIABLE a)
    list(APPEND abs ${a})
    # Per-source options set in LIB's folder (-Wno-error on generated code).
    get_source_file_property(opts ${a} DIRECTORY ${dir} COMPILE_OPTIONS)
    if(opts)
      set_source_files_properties(${a} PROPERTIES COMPILE_OPTIONS "${opts}")
    endif()
  endforeach()
  add_library(${lib}_fuzz STATIC ${abs})
  add_dependencies(${lib}_fuzz ${lib})
  target_compile_options(${lib}_fuzz PRIVATE -fsanitize=fuzzer-no-link)
  foreach(p INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS)
    get_target_property(v ${lib} ${p})
    if(v)
      set_property(TARGET ${lib}_fuzz PROPERTY ${p} "${v}")
    endif()
  endforeach()
  get_target_property(deps ${lib} LINK_LIBRARIES)
  set(fdeps)
  foreach(d IN LISTS deps)
    if(TARGET ${d})
      get_target_property(dtype ${d} TYPE)
    else()
      set(dtype "")
    endif()
    if(dtype STREQUAL "INTERFACE_LIBRARY")
      # Headers only (ember_probes_abi): no code to instrument.
      list(APPEND fdeps ${d})
    elseif(d MATCHES "^ember_")
      ember_fuzz_library(${d})
      list(APPEND fdeps ${d}_fuzz)
    elseif(d MATCHES "^PkgConfig::(.+)" AND NOT TARGET ${d})
      # Imported in LIB's folder only (libdebuginfod): pkg-config's cached flags.
      set(m ${CMAKE_MATCH_1})
      list(APPEND fdeps ${${m}_LDFLAGS})
      target_include_directories(${lib}_fuzz PRIVATE ${${m}_INCLUDE_DIRS})
      target_compile_options(${lib}_fuzz PRIVATE ${${m}_CFLAGS_OTHER})
    elseif(d MATCHES "^([A-Za-z0-9_]+)::" AND NOT TARGET ${d})
      # Another package imported in LIB's folder only (Threads): find it here too.
      find_package(${CMAKE_MATCH_1} REQUIRED)
      list(APPEND fdeps ${d})
    elseif(d)
      list(APPEND fdeps ${d})
    endif()
  endforeach()
  target_link_libraries(${lib}_fuzz PUBLIC ${fdeps})
endfunction()

# ember_fuzz_target(NAME LIB SOURCES...): libFuzzer binary NAME over the
# instrumented copy of LIB (only with EMBER_FUZZ).
function(ember_fuzz_target name lib)
  if(NOT EMBER_FUZZ)
    return()
  endif()
  ember_fuzz_library(${lib})
  add_executable(${name} ${ARGN})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${lib}_fuzz)
endfunction()
