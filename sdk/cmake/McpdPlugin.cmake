# McpdPlugin.cmake -- build an mcpd plugin.
#
#   include(/path/to/mcpd/sdk/cmake/McpdPlugin.cmake)
#   mcpd_add_plugin(weather weather.c)
#
# makes weather.so: a MODULE library with hidden visibility, only the entry
# symbol mcpd_plugin_v1 exported (sdk/plugin.map), no undefined symbols
# (-z defs), linked against the shared libjansson, and the SDK header on the
# include path. Works inside the mcpd tree and from any other project.
include_guard(GLOBAL)

set(MCPD_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/.." CACHE INTERNAL "mcpd SDK directory")

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
    LINK_DEPENDS "${MCPD_SDK_DIR}/plugin.map")
  target_include_directories(${name} PRIVATE "${MCPD_SDK_DIR}/include")
  target_link_libraries(${name} PRIVATE PkgConfig::JANSSON)
  target_link_options(${name} PRIVATE
    "LINKER:--version-script=${MCPD_SDK_DIR}/plugin.map" "LINKER:-z,defs")
endfunction()
