// Standalone Asio's compiled part, for fake_model_server only while src/runtime has no
// asio_impl.cc of its own (tests/llm/CMakeLists.txt picks one or the other, never both).
#include <asio/impl/src.hpp>
