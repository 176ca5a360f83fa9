// Standalone Asio, compiled once (ASIO_SEPARATE_COMPILATION).
#include <asio/impl/src.hpp>
