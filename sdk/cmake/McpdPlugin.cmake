# McpdPlugin.cmake -- build an mcpd plugin.
#
#   find_package(mcpd REQUIRED)                          # installed SDK
#   include(/path/to/mcpd/sdk/cmake/McpdPlugin.cmake)    # or a source tree
#   mcpd_add_plugin(weather weather.c)
#
# makes weather.so: a MODULE library with hidden visibility, only the entry
# symbol mcpd_plugin_v1 exported (plugin.map), no undefined symbols
# (-z defs), linked against the shared libjansson, and the SDK header on the
# include path.
include_guard(GLOBAL)

# In a source tree the header and the version script sit next to this file;
# the installed mcpdConfig.cmake sets both before including it.
# Cached, so sibling directories of the includer see them too.
if(NOT MCPD_PLUGIN_INCLUDE_DIR)
  get_filename_component(_mcpd_sdk "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  set(MCPD_PLUGIN_INCLUDE_DIR "${_mcpd_sdk}/include" CACHE INTERNAL "mcpd SDK headers")
  set(MCPD_PLUGIN_MAP "${_mcpd_sdk}/plugin.map" CACHE INTERNAL "mcpd plugin version script")
endif()

if(NOT TARGET PkgConfig::JANSSON)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.11)
endif()

function(mcpd_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS "${MCPD_PLUGIN_MAP}")
  target_include_directories(${name} PRIVATE "${MCPD_PLUGIN_INCLUDE_DIR}")
  target_link_libraries(${name} PRIVATE PkgConfig::JANSSON)
  target_link_options(${name} PRIVATE "LINKER:--version-script=${MCPD_PLUGIN_MAP}")
  # clang links its sanitizer runtimes into the executable only, so a
  # sanitized plugin has undefined __asan_*/__tsan_* symbols that the host
  # provides at load time: -z defs would refuse them.
  if(NOT MCPD_PLUGIN_ALLOW_SANITIZER_UNDEFINED)
    target_link_options(${name} PRIVATE "LINKER:-z,defs")
  endif()
endfunction()
