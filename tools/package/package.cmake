# SPDX-License-Identifier: MIT
# Installing ember the way operators install agents, and its Debian package.
#   cmake --install build [--prefix /usr]        binary, man page, systemd unit, config
#   (cd build && cpack -G DEB)                   build/ember_VERSION_ARCH.deb
# Included from the top-level CMakeLists.txt, after the ember target exists.
include(GNUInstallDirs)

install(TARGETS ember RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page is what `ember man` prints: generated from the option tables, as
# the help text is, so the two cannot drift. Gzipped (-n: no name or time in the
# header, so the package is reproducible), as Debian ships man pages.
set(EMBER_MAN ${CMAKE_BINARY_DIR}/ember.1.gz)
add_custom_command(
  OUTPUT ${EMBER_MAN}
  COMMAND sh -c "$<TARGET_FILE:ember> man | gzip -9n > ${EMBER_MAN}"
  DEPENDS ember
  COMMENT "Generating ember.1 from `ember man`"
  VERBATIM)
add_custom_target(ember_man ALL DEPENDS ${EMBER_MAN})
install(FILES ${EMBER_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The unit and the config are placed at install time, not configure time, so
# `cmake --install --prefix P` and cpack (which installs with prefix /usr) get
# paths of the prefix they install to: the unit's ExecStart names the installed
# binary, and the config goes where the GNU rule puts sysconfdir (/etc for the
# /usr prefix, else PREFIX/etc), which the unit's --config then names.
# tools/ember-agent.service itself names /usr/local/bin and /etc for a hand install.
# The example config holds every key at its default, so it is the installed
# config; the package marks it a conffile, so an operator's edits survive upgrades.
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(prefix STREQUAL \"/usr\")
    set(sysconf /etc)
  else()
    set(sysconf \"\${prefix}/etc\")
  endif()
  file(READ \"${CMAKE_SOURCE_DIR}/tools/ember-agent.service\" unit)
  string(REPLACE \"/usr/local/bin/ember\" \"\${prefix}/${CMAKE_INSTALL_BINDIR}/ember\" unit \"\${unit}\")
  string(REPLACE \"/etc/ember/agent.conf\" \"\${sysconf}/ember/agent.conf\" unit \"\${unit}\")
  set(unit_dir \"\$ENV{DESTDIR}\${prefix}/lib/systemd/system\")
  file(MAKE_DIRECTORY \"\${unit_dir}\")
  file(WRITE \"\${unit_dir}/ember-agent.service\" \"\${unit}\")
  message(STATUS \"Installing: \${unit_dir}/ember-agent.service\")
  file(INSTALL \"${CMAKE_SOURCE_DIR}/tools/agent/agent.conf.example\"
       DESTINATION \"\${sysconf}/ember\" RENAME agent.conf) # file(INSTALL) adds DESTDIR
")
install(FILES ${CMAKE_SOURCE_DIR}/tools/agent/agent.conf.example ${CMAKE_SOURCE_DIR}/README.md
              ${CMAKE_SOURCE_DIR}/docs/agent.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Debian package. Dependencies come from dpkg-shlibdeps (the libraries ember
# links: libbpf1, libdw1, libelf1, libzstd1, libcurl4, ...).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ember)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ember developers <ember@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "continuous CPU profiler for Linux (eBPF)")
set(CPACK_PACKAGE_DESCRIPTION
    "ember samples kernel and user stacks of every CPU with eBPF, unwinds code without frame pointers from .eh_frame, symbolizes through ELF and DWARF, and writes folded stacks, pprof and interactive flamegraphs. `ember record` profiles on demand; the ember-agent service profiles the host always on, writing or pushing a profile every window.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/conffiles ${CMAKE_CURRENT_LIST_DIR}/postinst
    ${CMAKE_CURRENT_LIST_DIR}/prerm ${CMAKE_CURRENT_LIST_DIR}/postrm)
include(CPack)
