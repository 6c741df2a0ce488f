# `make package` (scripts/package.sh runs cpack here): into BUILD/packages/
#   g2kit_<version>_amd64.deb              the tools under /usr; Depends from dpkg-shlibdeps,
#                                          i.e. Debian's runtime packages (libsentencepiece0, ...)
#   g2kit-<version>-linux-x86_64.tar.gz    the tools, bin/ + lib/ + share/, run from any folder
#                                          without root: lib/ holds every shared library they
#                                          need except glibc's, found through RPATH $ORIGIN/../lib
# Bundled shared libraries rather than static linking: Debian ships no static libsentencepiece,
# and a static OpenBLAS would drag in static libgfortran/libquadmath from the compiler; copying
# the .so files the tools were linked and tested with is one mechanism for every dependency.
# Not bundled: glibc (it goes with ld.so and the kernel), and libstdc++/libgcc_s: Debian 12's
# libstdc++ itself needs glibc 2.36, while the tools and libraries need only 2.34 and a
# libstdc++ from GCC 12 (GLIBCXX_3.4.30), which Ubuntu 22.04 (glibc 2.35) has: bundling it would
# shut out such hosts. So the tarball runs on glibc >= 2.34 with GCC 12's libstdc++ (Debian 12,
# Ubuntu 22.04, Fedora 36 and later); tests/cli/package_tarball.sh checks these floors.
# Both packages hold CPU-only tools (G2_PACKAGE_TOOLS): a CUDA build needs the cluster's own
# CUDA runtime, so GPU users build from source (README "Install").
set(_g2_package_exes "")
foreach(_t ${G2_PACKAGE_TOOLS})
  list(APPEND _g2_package_exes "$<TARGET_FILE:${_t}>")
endforeach()
install(CODE "set(G2_PACKAGE_EXES \"${_g2_package_exes}\")" COMPONENT bundled_libs EXCLUDE_FROM_ALL)
install(CODE [[
  file(GET_RUNTIME_DEPENDENCIES EXECUTABLES ${G2_PACKAGE_EXES}
       RESOLVED_DEPENDENCIES_VAR _deps UNRESOLVED_DEPENDENCIES_VAR _missing
       # glibc, the loader and the C++ runtime stay the system's (see above)
       PRE_EXCLUDE_REGEXES "^ld-linux" "^linux-vdso" "^lib(c|m|dl|rt|pthread|resolv|util)\\.so"
                           "^libstdc\\+\\+\\.so" "^libgcc_s\\.so")
  if(_missing)
    message(FATAL_ERROR "g2kit tarball: cannot resolve shared libraries ${_missing}")
  endif()
  foreach(_dep ${_deps})
    # the real file under the name the loader asks for (Debian's libopenblas.so.0 is an
    # alternatives symlink into openblas-pthread/)
    get_filename_component(_name "${_dep}" NAME)
    file(REAL_PATH "${_dep}" _real)
    file(INSTALL "${_real}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib" RENAME "${_name}")
  endforeach()
]] COMPONENT bundled_libs EXCLUDE_FROM_ALL)

# cpack runs the `preinstall` target; without this it builds `all` first, which inside ctest
# (the package tests call scripts/package.sh) could relink tools other tests are running.
# `make package` builds before packaging; `cmake --install` never builds.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_PACKAGE_NAME g2kit)
set(CPACK_PACKAGE_VENDOR g2kit)
set(CPACK_PACKAGE_CONTACT "g2kit maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Convert and verify Grok-1 / Grok-2 checkpoints (reshard, requantize, layer-by-layer parity)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB TGZ)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_ARCHIVE_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
string(TOLOWER "${CMAKE_SYSTEM_NAME}-${CMAKE_SYSTEM_PROCESSOR}" G2_PACKAGE_SYSTEM)
# Per generator: which components, where (cpack reads this before each generator runs).
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/g2kitCPackOptions.cmake)
file(WRITE ${PROJECT_BINARY_DIR}/g2kitCPackOptions.cmake "
if(CPACK_GENERATOR STREQUAL \"DEB\")
  set(CPACK_COMPONENTS_ALL package_tools data)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
else()
  set(CPACK_COMPONENTS_ALL package_tools data bundled_libs)
  set(CPACK_PACKAGE_FILE_NAME g2kit-${PROJECT_VERSION}-${G2_PACKAGE_SYSTEM})
  set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
  set(CPACK_COMPONENT_INCLUDE_TOPLEVEL_DIRECTORY ON)
endif()
")
include(CPack)
