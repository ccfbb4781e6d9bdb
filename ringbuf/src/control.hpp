// Atomic access to the words writer and readers share across processes (internal).
// Offsets are 8-byte aligned inside a page-aligned mapping, so atomic_ref is valid on them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace framering::ring::detail {

template <typename T>
std::atomic_ref<T> atomic_at(const std::byte* base, std::size_t offset) {
  // The reader's mapping is PROT_READ: it only ever loads through this reference.
  return std::atomic_ref<T>(*reinterpret_cast<T*>(const_cast<std::byte*>(base + offset)));
}

}  // namespace framering::ring::detail
