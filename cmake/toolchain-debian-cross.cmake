# Cross-compiling tether on Debian 12 with crossbuild-essential-<arch> and the
# target's multiarch -dev packages (dpkg --add-architecture). Pick the target with
#   -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-debian-cross.cmake -DTETHER_CROSS_ARCH=arm64|armhf
# scripts/cross-build does all of it. Test binaries run under qemu-user
# (CMAKE_CROSSCOMPILING_EMULATOR), so gtest discovery and ctest work unchanged.
set(TETHER_CROSS_ARCH "arm64" CACHE STRING "Debian architecture to build for: arm64 or armhf")
# try_compile projects re-read this file; hand them the choice.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TETHER_CROSS_ARCH)

if(TETHER_CROSS_ARCH STREQUAL "arm64")
  set(triplet aarch64-linux-gnu)
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(qemu qemu-aarch64-static)
elseif(TETHER_CROSS_ARCH STREQUAL "armhf")
  set(triplet arm-linux-gnueabihf)
  set(CMAKE_SYSTEM_PROCESSOR arm)
  set(qemu qemu-arm-static)
else()
  message(FATAL_ERROR "TETHER_CROSS_ARCH must be arm64 or armhf, not '${TETHER_CROSS_ARCH}'")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${triplet}-gcc)
set(CMAKE_CXX_COMPILER ${triplet}-g++)
set(CMAKE_STRIP ${triplet}-strip CACHE FILEPATH "strip for the target")
# Multiarch: the target's libraries and CMake packages are in /usr/lib/<triplet>.
set(CMAKE_LIBRARY_ARCHITECTURE ${triplet})
set(CMAKE_FIND_ROOT_PATH /usr/${triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# The target's .pc files only, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${triplet}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# libc6:<arch> puts the target's loader in /lib, so qemu needs no -L prefix.
find_program(TETHER_QEMU ${qemu})
if(TETHER_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TETHER_QEMU})
endif()
