#pragma once
// The report as a PDF, drawn with Qt (QPdfWriter + QPainter): text stays text (selectable,
// searchable), images are drawn at print resolution. Also the key-image picture itself (the
// scan, the overlay, the user's annotations and measurements, a colorbar with its scale), which
// the Secondary Capture objects carry burnt in. QtGui only, no widgets: the command line links
// this with an offscreen QGuiApplication.

#include <QImage>
#include <QString>

#include "render/Raster.h"
#include "report/Report.h"

namespace al::ui {

// One key image as the report shows it, about `width` pixels wide (the height follows the
// scan's physical aspect): the slice (display window), the first run's map in inferno above its
// healthy limit, the annotations with their measurements, a caption strip and a colorbar.
QImage renderKeyImage(const report::Report& report, const Volume& scan, const report::KeyImage& key, int width = 1000);
render::RgbImage toRgbImage(const QImage& image);

// Writes the PDF atomically (temporary file + rename). Throws al::FileError naming the file and
// the reason. Returns the number of pages.
int writeReportPdf(const report::Report& report, const Volume& scan, const QString& path);

}  // namespace al::ui
