# `cmake --install BUILD [--prefix P]`:
#   bin/                 the four tools (component tools)
#   lib/                 the static libraries, lib/cmake/g2kit/ the CMake package (component dev)
#   include/g2kit/       the public headers, by folder: libconvert/, libmodel/, kernels/ (dev)
#   share/g2kit/configs/ the model configs (a Grok-1 release has no config.json), docs (data)
# find_package(g2kit CONFIG REQUIRED) then gives g2kit::convert and g2kit::model (and
# g2kit::model_cuda in a CUDA build). The packages of `make package` hold no libraries or
# headers: CPU-only tools and data (cmake/package.cmake).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(G2_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/g2kit)
set(G2_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/g2kit)

set(_g2_libs g2_kernels g2_kernels_cpu g2_convert g2_model)
foreach(_t g2_kernels_cuda g2_model_cuda)
  if(TARGET ${_t})
    list(APPEND _g2_libs ${_t})
  endif()
endforeach()
foreach(_t ${_g2_libs})
  string(REGEX REPLACE "^g2_" "" _export_name ${_t})
  set_target_properties(${_t} PROPERTIES EXPORT_NAME ${_export_name})
endforeach()
install(TARGETS ${_g2_libs} EXPORT g2kitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${G2_INSTALL_INCLUDEDIR})
foreach(_dir libconvert libmodel kernels)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_dir}/ DESTINATION ${G2_INSTALL_INCLUDEDIR}/${_dir} COMPONENT dev
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
install(EXPORT g2kitTargets NAMESPACE g2kit:: DESTINATION ${G2_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/g2kitConfig.cmake.in ${PROJECT_BINARY_DIR}/g2kitConfig.cmake
                              INSTALL_DESTINATION ${G2_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/g2kitConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/g2kitConfig.cmake ${PROJECT_BINARY_DIR}/g2kitConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/g2kitDependencies.cmake
        DESTINATION ${G2_INSTALL_CMAKEDIR} COMPONENT dev)

# Tools: RPATH $ORIGIN/../lib, where the tarball bundles the shared libraries it needs
# (cmake/package.cmake); installed into a prefix, that folder holds only static libraries and
# the system's shared libraries are used.
foreach(_tool ${G2_TOOLS} ${G2_PACKAGE_TOOLS})
  set_target_properties(${_tool} PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endforeach()
install(TARGETS ${G2_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(TARGETS ${G2_PACKAGE_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT package_tools EXCLUDE_FROM_ALL)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/g2kit/configs COMPONENT data
        FILES_MATCHING PATTERN "*.json")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/MIGRATION.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT data)
