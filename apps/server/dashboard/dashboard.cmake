# The operator dashboard, compiled into cidrot_server_lib (included from apps/server/CMakeLists.txt).
set(_dash_dir ${CMAKE_CURRENT_LIST_DIR})
set(_dash_assets ${_dash_dir}/assets/index.html ${_dash_dir}/assets/app.js
                 ${_dash_dir}/assets/app.css)
set(_dash_generated ${CMAKE_CURRENT_BINARY_DIR}/dashboard_assets.cpp)
add_custom_command(
  OUTPUT ${_dash_generated}
  COMMAND ${CMAKE_COMMAND} -DASSET_DIR=${_dash_dir}/assets -DOUT=${_dash_generated} -P
          ${_dash_dir}/embed_assets.cmake
  DEPENDS ${_dash_assets} ${_dash_dir}/embed_assets.cmake
  COMMENT "Embedding the dashboard assets"
  VERBATIM)
target_sources(cidrot_server_lib PRIVATE ${_dash_dir}/dashboard.cpp ${_dash_dir}/live_stats.cpp
                                         ${_dash_dir}/sessions.cpp ${_dash_generated})
target_include_directories(cidrot_server_lib PUBLIC ${_dash_dir})
