#pragma once
// Compressed DICOM pixel data that DCMTK's free build cannot decode, decoded with Debian's
// codec libraries directly: JPEG 2000 and High-Throughput JPEG 2000 with OpenJPEG (libopenjp2),
// JPEG-LS with CharLS 2 (DCMTK's JPEG-LS codec refuses valid files such as 7 bits stored in 8, and
// its private CharLS 1 clashes with CharLS 2 by symbol name).
// memory budget before anything is decoded, so no codestream can make the process allocate what
// it claims or abort inside a library.

#include <cstdint>
#include <string>
#include <vector>

class DcmDataset;

namespace al {

bool isJpeg2000TransferSyntax(const std::string& uid);
bool isJpegLsTransferSyntax(const std::string& uid);

// The codestream of each frame of the dataset's encapsulated Pixel Data, assembled from its
// fragments (one per frame, the Basic Offset Table, or codestream start markers). Throws
// FileError naming `path` when the data is not encapsulated or holds fewer frames than `frames`.
std::vector<std::vector<std::uint8_t>> encapsulatedFrames(DcmDataset& dataset, const std::string& path, int frames);

// One decoded frame: stored values (before rescale), planar (component c's values at
// c * width * height), with the codestream's precision and sign.
struct DecodedFrame {
  int width = 0, height = 0, components = 0;
  int bits = 0;
  bool isSigned = false;
  std::vector<std::int32_t> samples;
};

// Decoders: throw FileError naming `path` (and the frame) when the codestream is damaged or
// disagrees with the expected size; nothing is allocated before the codestream's header is read
// and checked against it.
DecodedFrame decodeJpeg2000Frame(const std::vector<std::uint8_t>& codestream, const std::string& path, int frame,
                                 int width, int height, int components);
DecodedFrame decodeJpegLsFrame(const std::vector<std::uint8_t>& codestream, const std::string& path, int frame,
                               int width, int height, int components);

}  // namespace al
