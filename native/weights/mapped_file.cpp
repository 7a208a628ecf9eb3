#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../core/error.h"

namespace da {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::ModelFormat, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::ModelFormat, path + " is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = nullptr;
  if (size > 0) {
    p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail(ErrorCode::ModelFormat, "cannot map " + path + ": " + std::strerror(err));
    }
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return std::shared_ptr<MappedFile>(new MappedFile(static_cast<const uint8_t*>(p), size));
}

MappedFile::~MappedFile() {
  if (size_ > 0) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {

size_t file_dtype_size(FileDType t) { return t == FileDType::F32 ? 4 : 2; }

DType as_dtype(FileDType t) {
  switch (t) {
    case FileDType::F32: return DType::Float32;
    case FileDType::F16: return DType::Float16;
    case FileDType::BF16: return DType::BFloat16;
  }
  return DType::Float32;
}

}  // namespace

Tensor load_tensor(const std::shared_ptr<MappedFile>& file, const FileTensor& t, DType compute) {
  const uint64_t numel = checked_numel(t.shape);
  const size_t esize = file_dtype_size(t.dtype);
  if (numel > UINT64_MAX / esize || numel * esize != t.nbytes) {
    fail(ErrorCode::ModelFormat, "tensor byte range of " + std::to_string(t.nbytes) + " bytes does not match its shape and dtype");
  }
  if (t.offset > file->size() || t.nbytes > file->size() - t.offset) {
    fail(ErrorCode::ModelFormat, "tensor bytes [" + std::to_string(t.offset) + ", " + std::to_string(t.offset + t.nbytes) +
                                     ") lie outside the " + std::to_string(file->size()) + "-byte file");
  }
  const uint8_t* src = file->data() + t.offset;
  const DType stored = as_dtype(t.dtype);
  const bool aligned = reinterpret_cast<uintptr_t>(src) % alignof(float) == 0;  // kernels load unaligned
  if (stored == compute && aligned) {
    Tensor out;
    // Borrow the mapping; MAP_PRIVATE + PROT_READ: nothing writes through it (tensors are immutable).
    out.storage = std::make_shared<Storage>(const_cast<uint8_t*>(src), static_cast<size_t>(t.nbytes),
                                            std::shared_ptr<const void>(file, file.get()));
    out.shape = t.shape;
    out.dtype = compute;
    return out;
  }
  Tensor raw = tensor_empty(t.shape, stored, Device::Cpu);
  if (t.nbytes) std::memcpy(raw.data(), src, static_cast<size_t>(t.nbytes));
  return stored == compute ? raw : tensor_to(raw, compute, Device::Cpu);
}

}  // namespace da
