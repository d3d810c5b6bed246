// DevEnviro Cockpit: force-included when building faiss-node against an installed faiss
// (see native/faiss/CMakeLists.txt). faiss 1.7.3 (Debian 12's libfaiss-dev) declares idx_t only inside
// faiss::Index; faiss-node 0.5.1 expects the namespace-level alias that faiss 1.7.4 introduced.
// Redeclaring an alias to the same type is legal C++, so this is harmless with newer faiss too.
#pragma once
#include <cstdint>

namespace faiss {
using idx_t = int64_t;
}
