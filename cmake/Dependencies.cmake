# Every dependency comes from a Debian bookworm package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)

find_package(CLI11 2.1 CONFIG REQUIRED)              # libcli11-dev
find_package(yaml-cpp 0.7 CONFIG REQUIRED)           # libyaml-cpp-dev
find_package(spdlog 1.10 CONFIG REQUIRED)            # libspdlog-dev
find_package(LibArchive 3.6 REQUIRED)                # libarchive-dev
find_package(OpenSSL 3.0 REQUIRED)                   # libssl-dev
find_package(SQLite3 REQUIRED)                       # libsqlite3-dev
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json url)  # libboost-{json,url}1.81-dev
find_package(Protobuf REQUIRED)                      # libprotobuf-dev, protobuf-compiler
find_package(gRPC CONFIG REQUIRED)                   # libgrpc++-dev, protobuf-compiler-grpc
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
pkg_check_modules(LIBVIRT REQUIRED IMPORTED_TARGET libvirt)  # libvirt-dev
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)  # libnftables-dev
if(KCUBE_TESTS)
  find_package(doctest CONFIG REQUIRED)              # doctest-dev
endif()

# Boost.Process (header-only in 1.81) on std::filesystem rather than Boost.Filesystem.
add_library(kcube_boost INTERFACE)
target_link_libraries(kcube_boost INTERFACE Boost::headers Boost::json Boost::url)
target_compile_definitions(kcube_boost INTERFACE BOOST_PROCESS_USE_STD_FS BOOST_ASIO_NO_DEPRECATED)
