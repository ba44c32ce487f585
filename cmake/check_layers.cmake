# Fails the build when a source file includes across a boundary the layout
# forbids (docs/architecture.md, "Layers"): a program's folder never includes
# another program's headers, and each library folder includes only the
# layers below it. Run by the `layers` target on every build:
#   cmake -DSOURCE_DIR=<repo> -P cmake/check_layers.cmake
#
# Allowed arrows, folder -> folders it may include:
cmake_minimum_required(VERSION 3.25)

set(allowed_common  common)
set(allowed_formats common formats)
set(allowed_rules   common formats rules)
set(allowed_server  common server)
set(allowed_store   common formats rules store)
set(allowed_preflight common formats rules preflight)
set(allowed_recipient common formats rules recipient)
set(programs policyd milter rampd ctl queue_helper)
set(libraries common formats rules server store preflight recipient)
foreach(p IN LISTS programs)
  set(allowed_${p} ${libraries} ${p})
endforeach()

set(violations "")
foreach(folder IN LISTS libraries programs)
  file(GLOB_RECURSE files ${SOURCE_DIR}/${folder}/*.cpp ${SOURCE_DIR}/${folder}/*.hpp
       ${SOURCE_DIR}/${folder}/*.in)
  foreach(f IN LISTS files)
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[a-z_]+/")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([a-z_]+)/.*" "\\1" target "${line}")
      if(NOT target IN_LIST allowed_${folder})
        file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
        string(STRIP "${line}" line)
        list(JOIN allowed_${folder} "/, " may)
        list(APPEND violations "${rel}: ${line} (${folder}/ may include only ${may}/)")
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "include across a layer boundary:\n  ${text}")
endif()
