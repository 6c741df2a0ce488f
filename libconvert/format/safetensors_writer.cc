#include "libconvert/format/safetensors_writer.h"

namespace g2 {

Expected<SafetensorsWriter> SafetensorsWriter::create(const std::string& path, std::vector<SafetensorsDecl> tensors,
                                                      const std::map<std::string, std::string>& metadata,
                                                      WriteMode mode) {
  uint64_t data_size = 0;
  auto header = build_safetensors_header(tensors, metadata, &data_size);
  if (!header) return invalid(path + ": " + header.message());
  auto file = AtomicFile::create(path, header->size() + data_size, mode);
  if (!file) return file.error();
  SafetensorsWriter w;
  w.file_ = std::move(*file);
  w.header_ = std::move(*header);
  w.data_size_ = data_size;
  for (const auto& t : tensors) w.sizes_.push_back(*checked_nbytes(t.dtype, t.shape));  // checked by the header
  w.decls_ = std::move(tensors);
  G2_TRY(w.file_.write(w.header_));
  return w;
}

Status SafetensorsWriter::write(std::string_view name, std::span<const uint8_t> chunk) {
  // Step over completed tensors (including empty ones) until `name` is the current one.
  while (cur_ < decls_.size() && cur_done_ == sizes_[cur_] && decls_[cur_].name != name) {
    ++cur_;
    cur_done_ = 0;
  }
  if (cur_ >= decls_.size())
    return invalid(path() + ": tensor \"" + std::string(name) + "\" written after every declared tensor was complete");
  const auto& d = decls_[cur_];
  if (d.name != name)
    return invalid(path() + ": got bytes for \"" + std::string(name) + "\" while \"" + d.name + "\" has " +
                   std::to_string(sizes_[cur_] - cur_done_) + " of " + std::to_string(sizes_[cur_]) +
                   " bytes still to come (tensors must arrive in the declared order)");
  if (chunk.size() > sizes_[cur_] - cur_done_)
    return invalid(path() + ": tensor \"" + d.name + "\" " + shape_str(d.shape) + " " +
                   std::string(dtype_name(d.dtype)) + " is " + std::to_string(sizes_[cur_]) + " bytes; a chunk of " +
                   std::to_string(chunk.size()) + " at " + std::to_string(cur_done_) + " overruns it");
  G2_TRY(file_.write(chunk));
  cur_done_ += chunk.size();
  return Status::Ok();
}

Status SafetensorsWriter::finish() {
  auto f = finish_uncommitted();
  if (!f) return f.error();
  return f->commit();
}

Expected<AtomicFile> SafetensorsWriter::finish_uncommitted() {
  while (cur_ < decls_.size() && cur_done_ == sizes_[cur_]) {
    ++cur_;
    cur_done_ = 0;
  }
  if (cur_ < decls_.size())
    return invalid(path() + ": finish() with tensor \"" + decls_[cur_].name + "\" incomplete (" +
                   std::to_string(cur_done_) + " of " + std::to_string(sizes_[cur_]) + " bytes) and " +
                   std::to_string(decls_.size() - cur_ - 1) + " more after it");
  G2_TRY(file_.seal());
  return std::move(file_);
}

Status write_safetensors(const std::string& path, const std::vector<SafetensorsBlob>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsDecl> decls;
  for (const auto& t : tensors) decls.push_back(t.decl);
  auto w = SafetensorsWriter::create(path, std::move(decls), metadata);
  if (!w) return w.status();
  for (const auto& t : tensors)
    G2_TRY(w->write(t.decl.name, t.data, size_t(*checked_nbytes(t.decl.dtype, t.decl.shape))));
  return w->finish();
}

}  // namespace g2
