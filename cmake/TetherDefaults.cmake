# Compiler settings every tether target gets: strict warnings (as errors where
# TETHER_WERROR says so), and the sanitizers when TETHER_SANITIZE is on. Applied per
# target so that third-party headers (included as SYSTEM) do not trip our warnings.

# Warnings are errors for development (Debug, RelWithDebInfo: what CI and developers
# build), but not by default for the optimised build types a packager or a user picks
# (Release, MinSizeRel): GCC's flow-sensitive warnings (-Wmaybe-uninitialized,
# -Wrestrict, -Wnull-dereference) change with the optimiser and the compiler version,
# and a false positive must never stop a package from building. CI still builds the
# shipped binaries in MinSizeRel with -DTETHER_WERROR=ON, so real warnings are caught.
if(CMAKE_BUILD_TYPE MATCHES "^(Release|MinSizeRel)$")
  set(_tether_werror_default OFF)
else()
  set(_tether_werror_default ON)
endif()
option(TETHER_WERROR "Treat compiler warnings as errors" ${_tether_werror_default})

set(TETHER_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion -Wnull-dereference
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(TETHER_WERROR)
  list(APPEND TETHER_WARNINGS -Werror)
endif()

if(TETHER_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# tether_defaults(<target>): warnings and the repository root as include root, so
# that every include names its layer: #include "protocol/message.hpp".
function(tether_defaults target)
  target_compile_options(${target} PRIVATE ${TETHER_WARNINGS})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
  else()
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  endif()
endfunction()

# tether_test(<name> SOURCES ... LIBS ... [TIMEOUT s] [LABELS ...] [SERIAL case ...]):
# a GoogleTest binary whose every case is a ctest test with a timeout, so CI never
# hangs. The SERIAL cases (Suite.Case) run with nothing else beside them: those that
# depend on state a concurrent test process could take, such as the first free
# sessions cgroup of the machine.
function(tether_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;SERIAL" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${name} ${T_SOURCES})
  tether_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(T_SERIAL)
    list(JOIN T_SERIAL ":" serial_filter)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 TEST_FILTER "-${serial_filter}"
                         PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 TEST_FILTER "${serial_filter}"
                         PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}" RUN_SERIAL TRUE)
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30
                         PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  endif()
endfunction()
