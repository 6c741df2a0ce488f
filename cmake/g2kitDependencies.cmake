# Third-party libraries of the g2kit libraries, found one way for both users: the build
# (CMakeLists.txt) and find_package(g2kit) (g2kitConfig.cmake includes this installed copy), so
# the imported targets the exported libraries link (PkgConfig::ZSTD, BLAS::BLAS, ...) exist
# with the same names in a consumer project. Debian packages: scripts/install-deps.sh.
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
foreach(_g2_pc ZSTD:libzstd XXHASH:libxxhash PCRE2:libpcre2-8)
  string(REPLACE ":" ";" _g2_pc "${_g2_pc}")
  list(GET _g2_pc 0 _g2_var)
  list(GET _g2_pc 1 _g2_module)
  if(NOT TARGET PkgConfig::${_g2_var})
    pkg_check_modules(${_g2_var} REQUIRED IMPORTED_TARGET ${_g2_module})
  endif()
endforeach()
# libsentencepiece alone: its pkg-config file also links the trainer, which nothing here needs.
if(NOT TARGET g2kit_sentencepiece)
  find_path(G2_SENTENCEPIECE_INCLUDE sentencepiece_processor.h REQUIRED)
  find_library(G2_SENTENCEPIECE_LIB sentencepiece REQUIRED)
  add_library(g2kit_sentencepiece UNKNOWN IMPORTED)
  set_target_properties(g2kit_sentencepiece PROPERTIES IMPORTED_LOCATION "${G2_SENTENCEPIECE_LIB}"
                        INTERFACE_INCLUDE_DIRECTORIES "${G2_SENTENCEPIECE_INCLUDE}")
endif()
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
