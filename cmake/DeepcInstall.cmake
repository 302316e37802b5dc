# deepc as an installed C library: the shared library, the install rules, deepc.pc and the CMake
# package. Included at the end of CMakeLists.txt, once every target_link_libraries(deepc ...) has
# run: the shared library's links and the dependencies written into deepc.pc and the package are
# read from the static library target `deepc`, so a library added there reaches them all.
#
# `cmake --install BUILD --prefix P` (or `make install PREFIX=P`) installs
#   P/lib/libdeepc.a                 the static library (what the in-tree programs link)
#   P/lib/libdeepc.so.X.Y.Z          the shared library, SONAME libdeepc.so.0.MINOR before 1.0
#                                    (each minor version may change the ABI), libdeepc.so.MAJOR after
#   P/include/deepc.h, P/include/deepc/*.h
#   P/lib/pkgconfig/deepc.pc         links the shared library; --static adds what the static one needs
#   P/lib/pkgconfig/deepc-static.pc  links libdeepc.a by its path, with its dependencies
#   P/lib/cmake/deepc/               find_package(deepc): deepc::deepc (shared), deepc::deepc_static
#   P/bin/deepc                      the command-line program
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(DC_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set(DC_VERSION_COMPAT SameMinorVersion)
else()
  set(DC_SOVERSION ${PROJECT_VERSION_MAJOR})
  set(DC_VERSION_COMPAT SameMajorVersion)
endif()

get_target_property(DC_LINK_ITEMS deepc LINK_LIBRARIES)
get_target_property(DC_LINK_OPTIONS deepc INTERFACE_LINK_OPTIONS)
if(NOT DC_LINK_OPTIONS)
  set(DC_LINK_OPTIONS "")
endif()

# libdeepc.so: the static library's objects (position-independent, hidden visibility but for the
# public headers' declarations) linked with the static library's dependencies.
add_library(deepc_shared SHARED $<TARGET_OBJECTS:deepc>)
target_link_libraries(deepc_shared PRIVATE ${DC_LINK_ITEMS})
target_link_options(deepc_shared PRIVATE ${DC_LINK_OPTIONS})
target_include_directories(deepc_shared INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>)
set_target_properties(deepc_shared PROPERTIES OUTPUT_NAME deepc EXPORT_NAME deepc VERSION ${PROJECT_VERSION}
                      SOVERSION ${DC_SOVERSION} INSTALL_RPATH_USE_LINK_PATH ON)
# Every symbol the library uses must be found in its dependencies when it is linked, not when a
# program loads it. The sanitizer runtimes are linked into the programs only, so not there.
if(NOT DC_SANITIZE AND NOT DC_FUZZ)
  target_link_options(deepc_shared PRIVATE -Wl,-z,defs)
endif()
# The linker's version script names what the public headers declare as the library's only
# global symbols (cmake/deepc_exports.cmake); remade when a public header changes.
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND NOT APPLE)
  file(GLOB DC_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/deepc/*.h)
  set(DC_EXPORTS_MAP ${CMAKE_BINARY_DIR}/generated/deepc.map)
  add_custom_command(OUTPUT ${DC_EXPORTS_MAP}
                     COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DINCLUDE=${CMAKE_SOURCE_DIR}/include
                             -DOUT=${DC_EXPORTS_MAP} -P ${CMAKE_CURRENT_LIST_DIR}/deepc_exports.cmake
                     DEPENDS ${DC_PUBLIC_HEADERS} ${CMAKE_SOURCE_DIR}/include/deepc.h ${CMAKE_CURRENT_LIST_DIR}/deepc_exports.cmake
                     COMMENT "Listing the public functions of libdeepc.so")
  add_custom_target(deepc_exports_map DEPENDS ${DC_EXPORTS_MAP})
  add_dependencies(deepc_shared deepc_exports_map)
  target_link_options(deepc_shared PRIVATE -Wl,--version-script=${DC_EXPORTS_MAP})
  set_property(TARGET deepc_shared APPEND PROPERTY LINK_DEPENDS ${DC_EXPORTS_MAP})
endif()
set_target_properties(deepc PROPERTIES EXPORT_NAME deepc_static)
# the installed command-line program keeps the run-time paths of its libraries (OpenMP OpenBLAS)
set_target_properties(deepc_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

# --- the dependencies as pkg-config flags -------------------------------------------------------
# The directories the linker and the loader search anyway get no -L and no run-time path.
set(DC_IMPLICIT_DIRS "")
foreach(d ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES} /lib /usr/lib)
  get_filename_component(r "${d}" REALPATH)
  list(APPEND DC_IMPLICIT_DIRS "${d}" "${r}")
endforeach()

# Turns link items into linker flags: a library file lib<name>.so becomes -L<dir> -l<name> (with
# -Wl,-rpath,<dir> when the loader would not find it: the OpenMP build of OpenBLAS), any other file
# its path; an imported target its file, its own link items and link options; OpenMP::OpenMP_C the
# compiler's OpenMP flag (-fopenmp), whose runtime the compiler knows; a bare name -l<name>; a flag
# stays. Of a library named twice the last place is kept, which a static link needs (-lz after -lpng).
function(dc_link_flags out)
  set(flags "")
  set(expanded 0)
  set(work ${ARGN})
  while(work)
    list(POP_FRONT work item)
    if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(item MATCHES "^SHELL:(.*)$")
      separate_arguments(parts UNIX_COMMAND "${CMAKE_MATCH_1}")
      list(APPEND flags ${parts})
      continue()
    elseif(item MATCHES "^LINKER:(.*)$")
      list(APPEND flags "-Wl,${CMAKE_MATCH_1}")
      continue()
    elseif(item MATCHES "\\$<")
      message(WARNING "deepc.pc: the link item ${item} is a generator expression and is left out")
      continue()
    endif()
    if(item STREQUAL "OpenMP::OpenMP_C")
      separate_arguments(parts UNIX_COMMAND "${OpenMP_C_FLAGS}")
      list(APPEND flags ${parts})
    elseif(TARGET "${item}")
      # a target met again is expanded again, so its libraries move to their last place
      math(EXPR expanded "${expanded} + 1")
      if(expanded GREATER 1000)
        message(FATAL_ERROR "deepc.pc: the link items of ${item} form a cycle")
      endif()
      get_target_property(imported "${item}" IMPORTED)
      if(NOT imported)
        message(WARNING "deepc.pc: the link item ${item} is a target of this build and is left out")
        continue()
      endif()
      set(more "")
      get_target_property(type "${item}" TYPE)
      if(NOT type STREQUAL "INTERFACE_LIBRARY")
        string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
        get_target_property(configs "${item}" IMPORTED_CONFIGURATIONS)
        set(loc "")
        foreach(c ${cfg} RELEASE NOCONFIG ${configs})
          get_target_property(loc "${item}" IMPORTED_LOCATION_${c})
          if(loc)
            break()
          endif()
        endforeach()
        if(NOT loc)
          get_target_property(loc "${item}" IMPORTED_LOCATION)
        endif()
        if(loc)
          list(APPEND more "${loc}")
        endif()
      endif()
      get_target_property(libs "${item}" INTERFACE_LINK_LIBRARIES)
      if(libs)
        list(APPEND more ${libs})
      endif()
      get_target_property(opts "${item}" INTERFACE_LINK_OPTIONS)
      if(opts)
        list(APPEND more ${opts})
      endif()
      list(PREPEND work ${more})
    elseif(IS_ABSOLUTE "${item}")
      get_filename_component(dir "${item}" DIRECTORY)
      get_filename_component(name "${item}" NAME)
      if(name MATCHES "^lib(.+)\\.so$" AND NOT dir IN_LIST DC_IMPLICIT_DIRS)
        list(APPEND flags "-L${dir}" "-l${CMAKE_MATCH_1}" "-Wl,-rpath,${dir}")
      elseif(name MATCHES "^lib(.+)\\.so$")
        list(APPEND flags "-l${CMAKE_MATCH_1}")
      else()
        list(APPEND flags "${item}")
      endif()
    elseif(item MATCHES "^-")
      list(APPEND flags "${item}")
    else()
      list(APPEND flags "-l${item}")
    endif()
  endwhile()
  # -L and run-time paths once each, first; libraries and other flags at their last place
  set(dirs "")
  set(rpaths "")
  set(rest "")
  foreach(f ${flags})
    if(f MATCHES "^-L")
      list(APPEND dirs "${f}")
    elseif(f MATCHES "^-Wl,-rpath,")
      list(APPEND rpaths "${f}")
    else()
      list(APPEND rest "${f}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES dirs)
  list(REMOVE_DUPLICATES rpaths)
  list(REVERSE rest)
  list(REMOVE_DUPLICATES rest)
  list(REVERSE rest)
  list(JOIN dirs " " dirs)
  list(JOIN rpaths " " rpaths)
  list(JOIN rest " " rest)
  string(STRIP "${dirs} ${rpaths} ${rest}" all)
  string(REGEX REPLACE "  +" " " all "${all}")
  set(${out} "${all}" PARENT_SCOPE)
endfunction()
dc_link_flags(DC_PC_DEPS ${DC_LINK_ITEMS} ${DC_LINK_OPTIONS})
message(STATUS "deepc.pc: static link dependencies: ${DC_PC_DEPS}")

# The CMake package finds the packages whose imported targets (NAMESPACE::name) the library links.
set(DC_FIND_DEPENDENCIES "")
set(dc_namespaces "")
foreach(item ${DC_LINK_ITEMS})
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item MATCHES "^([A-Za-z0-9_]+)::" AND NOT CMAKE_MATCH_1 IN_LIST dc_namespaces)
    list(APPEND dc_namespaces ${CMAKE_MATCH_1})
    if(CMAKE_MATCH_1 STREQUAL "OpenMP" OR CMAKE_MATCH_1 STREQUAL "MPI")
      string(APPEND DC_FIND_DEPENDENCIES "find_dependency(${CMAKE_MATCH_1} COMPONENTS C)\n")
    else()
      string(APPEND DC_FIND_DEPENDENCIES "find_dependency(${CMAKE_MATCH_1})\n")
    endif()
  endif()
endforeach()

# --- install rules -------------------------------------------------------------------------------
set(DC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/deepc)
install(TARGETS deepc deepc_shared EXPORT deepcTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS deepc_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/deepc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/deepc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

install(EXPORT deepcTargets NAMESPACE deepc:: DESTINATION ${DC_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/deepcConfig.cmake.in ${CMAKE_BINARY_DIR}/cmake/deepcConfig.cmake
                              INSTALL_DESTINATION ${DC_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/deepcConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${DC_VERSION_COMPAT})
install(FILES ${CMAKE_BINARY_DIR}/cmake/deepcConfig.cmake ${CMAKE_BINARY_DIR}/cmake/deepcConfigVersion.cmake
        DESTINATION ${DC_CMAKE_DIR})

# deepc.pc and deepc-static.pc name the prefix given at install time, not the configured one
# (cmake --install --prefix), so they are written by a script that runs at install time.
configure_file(${CMAKE_CURRENT_LIST_DIR}/deepc_pc_install.cmake.in ${CMAKE_BINARY_DIR}/cmake/deepc_pc_install.cmake @ONLY)
install(SCRIPT ${CMAKE_BINARY_DIR}/cmake/deepc_pc_install.cmake)

# --- tests ---------------------------------------------------------------------------------------
# The shared library exports exactly the functions the public headers declare.
add_test(NAME install_exports COMMAND sh ${CMAKE_SOURCE_DIR}/tests/install/check_exports.sh
         $<TARGET_FILE:deepc_shared> ${CMAKE_SOURCE_DIR}/include)
set_tests_properties(install_exports PROPERTIES SKIP_RETURN_CODE 77)
# Installs into the build directory and builds a program outside the tree with pkg-config and with
# find_package(deepc). Not in the sanitizer and fuzz builds: their library carries the sanitizers'
# instrumentation, which a program linked with the installed flags alone cannot resolve; those
# builds check the library's code, the plain build its packaging.
if(NOT DC_SANITIZE AND NOT DC_FUZZ)
  add_test(NAME install_out_of_tree COMMAND sh ${CMAKE_SOURCE_DIR}/tests/install/install_test.sh
           ${CMAKE_BINARY_DIR} ${CMAKE_COMMAND} ${CMAKE_C_COMPILER} ${PROJECT_VERSION})
  set_tests_properties(install_out_of_tree PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       ENVIRONMENT "DEEPC_THREADS=2;OMP_WAIT_POLICY=passive")
endif()
