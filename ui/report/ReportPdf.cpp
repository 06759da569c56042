#include "report/ReportPdf.h"

#include <QBuffer>
#include <QFile>
#include <QFontMetricsF>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPainterPath>
#include <QPdfWriter>
#include <QTextLayout>

#include <algorithm>
#include <cmath>

#include "errors/Error.h"
#include "io/AtomicFile.h"

namespace al::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }
QString num(double v, int digits = 3) { return QString::number(v, 'g', digits); }

// DICOM person names read as people write them: "DOE^JANE" -> "DOE, JANE".
QString personName(const std::string& pn) {
  QString s = q(pn);
  const auto parts = s.split('^');
  if (parts.size() >= 2 && !parts[1].isEmpty()) return parts[0] + ", " + parts.mid(1).join(' ').trimmed();
  return s.replace('^', ' ').trimmed();
}

QString dicomDate(const std::string& d) {
  if (d.size() == 8) return q(d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2));
  return q(d);
}

QString orDash(const QString& s) { return s.isEmpty() ? QStringLiteral("-") : s; }

const inference::ScanAnalysis* firstRun(const report::Report& r) { return r.runs.empty() ? nullptr : r.runs.front().analysis; }

void drawColorbar(QPainter& p, const QRectF& bar, double lo, double hi, const QFont& font) {
  QImage ramp(1, 256, QImage::Format_RGB32);
  for (int i = 0; i < 256; ++i) {
    const auto c = render::inferno(1.0 - i / 255.0);
    ramp.setPixel(0, i, qRgb(c[0], c[1], c[2]));
  }
  p.drawImage(bar, ramp);
  p.setPen(QPen(Qt::black, 1));
  p.drawRect(bar);
  p.setFont(font);
  const QFontMetricsF fm(font);
  for (int i = 0; i <= 4; ++i) {
    const double t = i / 4.0;
    const double y = bar.bottom() - t * bar.height();
    p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 4, y));
    p.drawText(QPointF(bar.right() + 6, y + fm.ascent() / 2 - 1), num(lo + t * (hi - lo)));
  }
}

}  // namespace

QImage renderKeyImage(const report::Report& r, const Volume& scan, const report::KeyImage& key, int width) {
  const Size3 s = scan.size();
  const std::int64_t plane = s.x * s.y;
  const int ch = 0;
  std::vector<float> img(static_cast<std::size_t>(plane));
  for (std::int64_t i = 0; i < plane; ++i) img[static_cast<std::size_t>(i)] = static_cast<float>(scan.value(i % s.x, i / s.x, key.slice, ch));
  const auto [lo, hi] = report::displayWindow(scan, ch);
  const auto* a = firstRun(r);
  const report::ModelRunSummary* sum = r.summaries.empty() ? nullptr : &r.summaries.front();
  const bool haveMap = a && sum && !sum->mapName.empty() && a->maps.count(sum->mapName);
  const render::RgbImage base = haveMap ? render::overlay(img.data(), a->maps.at(sum->mapName).data<float>() + key.slice * plane,
                                                          static_cast<int>(s.x), static_cast<int>(s.y), lo, hi, sum->mapRange.lo, sum->mapRange.hi)
                                        : render::overlay(img.data(), img.data(), static_cast<int>(s.x), static_cast<int>(s.y), lo, hi,
                                                          1e300, 1e301, 0.0);
  const QImage native(base.rgb.data(), base.width, base.height, base.width * 3, QImage::Format_RGB888);

  // Physical aspect: OCT pixels are often far from square.
  const double wMm = static_cast<double>(s.x) * scan.spacing()[0], hMm = static_cast<double>(s.y) * scan.spacing()[1];
  const int imageW = width - 160;  // room for the colorbar and its scale
  // OCT B-scans are a few mm wide and under 2 mm deep: at true scale the retina is a thin line,
  // so (as OCT viewers do) such images are shown with square pixels and marked "not to scale".
  double aspect = hMm / std::max(wMm, 1e-9);
  const bool toScale = aspect > 0.35 && aspect < 2.5;
  if (!toScale) aspect = static_cast<double>(s.y) / static_cast<double>(s.x);
  const int imageH = std::clamp(static_cast<int>(std::lround(imageW * aspect)), 200, 1600);
  const int captionH = 90;
  QImage out(width, imageH + captionH, QImage::Format_RGB888);
  out.fill(Qt::white);
  QPainter p(&out);
  p.setRenderHint(QPainter::Antialiasing);
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  const QRectF imageRect(0, captionH, imageW, imageH);
  p.drawImage(imageRect, native);
  const double fx = imageW / static_cast<double>(s.x), fy = imageH / static_cast<double>(s.y);
  // Annotation points: the first pixel's top-left corner is (0, 0) (Session.h).
  const auto toImage = [&](const std::array<double, 2>& pt) { return QPointF(pt[0] * fx, captionH + pt[1] * fy); };

  QFont font(QStringLiteral("DejaVu Sans"));
  font.setPixelSize(30);
  QFont small = font;
  small.setPixelSize(24);
  // Annotations on this slice, with what they measure.
  int index = 0;
  for (const auto& m : r.measurements) {
    ++index;
    if (m.slice != key.slice || m.annotation.points.empty()) continue;
    const auto& pts = m.annotation.points;
    p.setPen(QPen(QColor(0, 200, 255), 3));
    p.setBrush(Qt::NoBrush);
    QPointF labelAt = toImage(pts[0]);
    if (m.annotation.kind == AnnotationKind::Distance && pts.size() >= 2) {
      p.drawLine(toImage(pts[0]), toImage(pts[1]));
      labelAt = toImage(pts[1]);
    } else if (m.annotation.kind == AnnotationKind::Region && pts.size() >= 2) {
      const QRectF box = QRectF(toImage(pts[0]), toImage(pts[1])).normalized();
      p.drawEllipse(box);
      labelAt = box.topRight();
    } else {
      const QPointF c = toImage(pts[0]);
      p.drawLine(c + QPointF(-14, 0), c + QPointF(14, 0));
      p.drawLine(c + QPointF(0, -14), c + QPointF(0, 14));
    }
    const QString label = QString("%1 %2").arg(index).arg(q(m.text));
    p.setFont(small);
    const QRectF tb = QFontMetricsF(small).boundingRect(label).adjusted(-4, -2, 4, 2);
    QPointF at = labelAt + QPointF(8, -8);
    at.setX(std::max(4.0, std::min(at.x(), imageRect.right() - tb.width())));
    at.setY(std::max(at.y(), imageRect.top() + tb.height()));
    p.fillRect(tb.translated(at), QColor(0, 0, 0, 170));
    p.setPen(Qt::white);
    p.drawText(at, label);
  }
  // Caption: which image, its score and why it is here.
  p.setPen(Qt::black);
  p.setFont(font);
  QString caption = QString("Image %1 of %2").arg(key.slice + 1).arg(s.z);
  if (std::isfinite(key.score)) {
    caption += QString("   score %1").arg(num(key.score));
    if (sum && sum->threshold) caption += key.score >= *sum->threshold ? QString(" (above %1)").arg(num(*sum->threshold)) : QString(" (within %1)").arg(num(*sum->threshold));
  }
  QStringList why;
  if (key.topScoring) why << "top-scoring";
  if (key.flagged) why << "flagged";
  if (key.annotated) why << "annotated";
  if (!why.isEmpty()) caption += "   " + why.join(", ");
  p.drawText(QRectF(0, 0, width, captionH / 2.0 + 6), Qt::AlignLeft | Qt::AlignVCenter, caption);
  p.setFont(small);
  const QString mapLine = haveMap ? QString("%1 map, colour from %2 (%3)").arg(q(sum->mapName), num(sum->mapRange.lo),
                                                                              sum->mapRange.calibrated ? "healthy limit" : "this scan's range")
                                  : QString("no map");
  const QString scale = toScale ? QString() : QString("   (not to scale: %1 x %2 mm)").arg(num(wMm), num(hMm));
  p.drawText(QRectF(0, captionH / 2.0, width, captionH / 2.0), Qt::AlignLeft | Qt::AlignVCenter, mapLine + scale);
  if (haveMap) drawColorbar(p, QRectF(imageW + 14, captionH + 10, 30, imageH - 20), sum->mapRange.lo, sum->mapRange.hi, small);
  p.end();
  return out;
}

render::RgbImage toRgbImage(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
  render::RgbImage out;
  out.width = rgb.width();
  out.height = rgb.height();
  out.rgb.resize(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) * 3);
  for (int y = 0; y < out.height; ++y)
    std::copy_n(rgb.constScanLine(y), out.width * 3, out.rgb.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(out.width) * 3);
  return out;
}

namespace {

// A top-to-bottom flow over A4 pages with a footer on each: the statement and "page i of n".
class Flow {
 public:
  Flow(QPdfWriter& writer, QPainter& painter, int totalPages) : writer_(writer), p_(painter), total_(totalPages) {
    const QRect page = writer.pageLayout().paintRectPixels(writer.resolution());
    width_ = page.width();
    height_ = page.height();
    mm_ = writer.resolution() / 25.4;
    bottom_ = height_ - 16 * mm_;
    body_.setFamily(QStringLiteral("DejaVu Sans"));
    body_.setPointSizeF(9.5);
    // Any letter spacing turns off ligatures: "fi" stays two letters, so the PDF's text is found
    // by search and pasted as typed.
    body_.setLetterSpacing(QFont::AbsoluteSpacing, 0.2);
    bold_ = body_;
    bold_.setBold(true);
    small_ = body_;
    small_.setPointSizeF(7.5);
    heading_ = bold_;
    heading_.setPointSizeF(12);
    title_ = bold_;
    title_.setPointSizeF(17);
  }

  double mm() const { return mm_; }
  double width() const { return width_; }
  double& y() { return y_; }
  int page() const { return page_; }
  const QFont& body() const { return body_; }
  const QFont& bold() const { return bold_; }
  const QFont& small() const { return small_; }
  const QFont& heading() const { return heading_; }
  const QFont& title() const { return title_; }
  QPainter& painter() { return p_; }

  void ensure(double h) {
    if (y_ + h > bottom_) newPage();
  }
  void newPage() {
    footer();
    writer_.newPage();
    ++page_;
    y_ = 0;
  }
  void finish() { footer(); }

  double textHeight(const QString& text, const QFont& font, double w) const {
    return QFontMetricsF(font, &writer_).boundingRect(QRectF(0, 0, w, 1e6), Qt::TextWordWrap, text).height();
  }
  // A paragraph at x, wrapped to w; moves down by its height plus `after` mm.
  void paragraph(const QString& text, const QFont& font, double x = 0, double w = -1, double after = 1.5, QColor colour = Qt::black) {
    if (w < 0) w = width_ - x;
    const double h = textHeight(text, font, w);
    if (h > bottom_ / 2) {  // a long comment: line by line, across pages
      QString lines = text;
      lines.replace(QLatin1Char('\n'), QChar::LineSeparator);
      QTextLayout layout(lines, font, &writer_);
      layout.beginLayout();
      for (QTextLine line = layout.createLine(); line.isValid(); line = layout.createLine()) line.setLineWidth(w);
      layout.endLayout();
      p_.setFont(font);
      p_.setPen(colour);
      for (int i = 0; i < layout.lineCount(); ++i) {
        const QTextLine line = layout.lineAt(i);
        ensure(line.height());
        p_.setPen(colour);
        line.draw(&p_, QPointF(x, y_ - line.y()));
        y_ += line.height();
      }
      y_ += after * mm_;
      return;
    }
    ensure(h);
    p_.setFont(font);
    p_.setPen(colour);
    p_.drawText(QRectF(x, y_, w, h + 2), Qt::TextWordWrap, text);
    y_ += h + after * mm_;
  }
  // label: value rows in two columns.
  void fields(const std::vector<std::pair<QString, QString>>& rows) {
    const double labelW = 34 * mm_, colW = width_ / 2;
    for (std::size_t i = 0; i < rows.size(); i += 2) {
      double h = 0;
      for (std::size_t k = i; k < std::min(rows.size(), i + 2); ++k)
        h = std::max(h, textHeight(rows[k].second, body_, colW - labelW - 2 * mm_));
      ensure(h);
      for (std::size_t k = i; k < std::min(rows.size(), i + 2); ++k) {
        const double x = (k - i) * colW;
        p_.setPen(QColor(90, 90, 90));
        p_.setFont(body_);
        p_.drawText(QRectF(x, y_, labelW, h + 2), Qt::TextWordWrap, rows[k].first);
        p_.setPen(Qt::black);
        p_.drawText(QRectF(x + labelW, y_, colW - labelW - 2 * mm_, h + 2), Qt::TextWordWrap, rows[k].second);
      }
      y_ += h + 0.8 * mm_;
    }
  }
  void rule() {
    ensure(3 * mm_);
    p_.setPen(QPen(QColor(170, 170, 170), 0.3 * mm_));
    p_.drawLine(QPointF(0, y_ + mm_), QPointF(width_, y_ + mm_));
    y_ += 3 * mm_;
  }

 private:
  void footer() {
    p_.setFont(small_);
    p_.setPen(QColor(60, 60, 60));
    const double top = height_ - 13 * mm_;
    p_.drawLine(QPointF(0, top), QPointF(width_, top));
    p_.drawText(QRectF(0, top + mm_, width_ - 28 * mm_, 12 * mm_), Qt::TextWordWrap, QString::fromUtf8(report::kInvestigationalUse));
    p_.drawText(QRectF(width_ - 26 * mm_, top + mm_, 26 * mm_, 6 * mm_), Qt::AlignRight | Qt::AlignTop,
                QString("page %1 of %2").arg(page_).arg(std::max(total_, page_)));
  }

  QPdfWriter& writer_;
  QPainter& p_;
  int total_ = 0;
  int page_ = 1;
  double width_ = 0, height_ = 0, mm_ = 1, bottom_ = 0, y_ = 0;
  QFont body_, bold_, small_, heading_, title_;
};

void drawRoc(QPainter& p, const QRectF& box, const report::ModelRunSummary& s, double mm) {
  const QRectF plot = box.adjusted(10 * mm, 2 * mm, -2 * mm, -9 * mm);
  p.setPen(QPen(Qt::black, 0.25 * mm));
  p.setBrush(Qt::NoBrush);
  p.drawRect(plot);
  QFont f(QStringLiteral("DejaVu Sans"));
  f.setPointSizeF(7);
  p.setFont(f);
  for (int i = 0; i <= 4; ++i) {
    const double t = i / 4.0;
    p.drawText(QRectF(plot.left() + t * plot.width() - 6 * mm, plot.bottom() + 0.5 * mm, 12 * mm, 4 * mm), Qt::AlignCenter, num(t, 2));
    p.drawText(QRectF(plot.left() - 9 * mm, plot.bottom() - t * plot.height() - 2 * mm, 8 * mm, 4 * mm), Qt::AlignRight | Qt::AlignVCenter, num(t, 2));
  }
  p.drawText(QRectF(plot.left(), plot.bottom() + 4.5 * mm, plot.width(), 4 * mm), Qt::AlignCenter, "false positive rate");
  p.save();
  p.translate(box.left() + 1.5 * mm, plot.center().y());
  p.rotate(-90);
  p.drawText(QRectF(-plot.height() / 2, -2 * mm, plot.height(), 4 * mm), Qt::AlignCenter, "true positive rate");
  p.restore();
  p.setPen(QPen(QColor(150, 150, 150), 0.2 * mm, Qt::DashLine));
  p.drawLine(plot.bottomLeft(), plot.topRight());
  const auto at = [&](double fpr, double tpr) { return QPointF(plot.left() + fpr * plot.width(), plot.bottom() - tpr * plot.height()); };
  QPainterPath path;
  for (std::size_t i = 0; i < s.roc.size(); ++i) {
    const QPointF pt = at(s.roc[i].first, s.roc[i].second);
    if (i == 0) path.moveTo(pt);
    else path.lineTo(pt);
  }
  p.setPen(QPen(QColor(200, 60, 20), 0.5 * mm));
  p.drawPath(path);
  if (s.operatingPoint) {
    p.setBrush(QColor(20, 90, 200));
    p.setPen(Qt::NoPen);
    p.drawEllipse(at(s.operatingPoint->first, s.operatingPoint->second), 1.2 * mm, 1.2 * mm);
  }
  p.setPen(Qt::black);
  f.setPointSizeF(8.5);
  p.setFont(f);
  p.drawText(QRectF(plot.left() + plot.width() * 0.3, plot.bottom() - 8 * mm, plot.width() * 0.66, 6 * mm), Qt::AlignRight | Qt::AlignVCenter,
             QString("AUC %1 (%2)").arg(num(s.rocAuc.value_or(0))).arg(s.operatingPoint ? "dot: threshold" : "images of this scan"));
}

int layoutReport(QPdfWriter& writer, const report::Report& r, const Volume& scan, int total) {
  QPainter painter;
  if (!painter.begin(&writer)) throw Error("report PDF", "cannot start drawing the PDF");
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setRenderHint(QPainter::SmoothPixmapTransform);
  Flow f(writer, painter, total);
  const double mm = f.mm();
  const auto& m = r.source;

  f.paragraph("Anomaly detection report", f.title(), 0, -1, 1);
  f.paragraph(q(r.software) + (r.created.empty() ? QString() : "   created " + q(r.created)) +
                  (r.anonymisation.empty() ? QString() : "   de-identified: " + q(r.anonymisation)),
              f.small(), 0, -1, 3, QColor(80, 80, 80));
  f.paragraph("Patient and study", f.heading(), 0, -1, 1.5);
  QString sex = q(m.patientSex);
  f.fields({{"Patient", orDash(personName(m.patientName))},
            {"Patient ID", orDash(q(m.patientId))},
            {"Birth date", orDash(dicomDate(m.patientBirthDate))},
            {"Sex", orDash(sex)},
            {"Study date", orDash(dicomDate(m.studyDate))},
            {"Study", orDash(q(m.studyDescription))},
            {"Accession", orDash(q(m.accessionNumber))},
            {"Modality", orDash(q(m.modality))},
            {"Series", orDash((q(m.seriesNumber) + " " + q(m.seriesDescription)).trimmed())},
            {"Laterality", m.laterality == "R" ? "right eye / side (R)" : m.laterality == "L" ? "left eye / side (L)" : "-"},
            {"Scan", orDash(q(r.scanLabel))},
            {"Size", QString("%1 x %2 x %3, %4 x %5 x %6 mm")
                         .arg(scan.size().x).arg(scan.size().y).arg(scan.size().z)
                         .arg(num(scan.spacing()[0])).arg(num(scan.spacing()[1])).arg(num(scan.spacing()[2]))}});
  if (!m.studyInstanceUid.empty()) f.paragraph("Study UID " + q(m.studyInstanceUid), f.small(), 0, -1, 1, QColor(90, 90, 90));
  f.rule();

  for (std::size_t i = 0; i < r.summaries.size(); ++i) {
    const auto& s = r.summaries[i];
    f.paragraph(QString("Model: %1").arg(q(s.modelName)), f.heading(), 0, -1, 1.5);
    f.fields({{"Method", q(s.kind) + " (" + q(s.configName) + ")"},
              {"Version", q(s.version)},
              {"Trained on", q(s.trainingData)},
              {"Validation AUC", s.validationAuc ? num(*s.validationAuc) : QString("not recorded")},
              {"Threshold", s.threshold ? num(*s.threshold) + " (" + q(s.thresholdMethod) + ")" : QString("none")},
              {"Images above", QString("%1 of %2 scored").arg(s.imagesAbove).arg(s.scoredImages)}});
    const bool read = s.threshold && std::isfinite(s.scanScore);
    const bool above = read && s.scanScore >= *s.threshold;
    f.paragraph(QString("Scan score %1: %2").arg(std::isfinite(s.scanScore) ? num(s.scanScore) : QString("-"), q(s.reading)), f.bold(), 0, -1, 2,
                !read ? QColor(Qt::black) : above ? QColor(170, 30, 20) : QColor(20, 100, 40));
    if (!s.roc.empty()) {
      const double h = 62 * mm;
      f.ensure(h);
      f.paragraph("ROC over this scan's labelled images", f.body(), 0, -1, 0.5);
      drawRoc(painter, QRectF(0, f.y(), 85 * mm, h - 6 * mm), s, mm);
      f.y() += h - 6 * mm + 2 * mm;
    }
    f.rule();
  }
  if (r.summaries.empty()) {
    f.paragraph("No model was run on this scan.", f.body());
    f.rule();
  }

  f.paragraph("Comment", f.heading(), 0, -1, 1);
  f.paragraph(r.comment.empty() ? QString("(none)") : q(r.comment), f.body(), 0, -1, 2);
  if (!r.measurements.empty()) {
    f.paragraph("Annotations and measurements", f.heading(), 0, -1, 1);
    int index = 0;
    for (const auto& mm2 : r.measurements) {
      ++index;
      f.paragraph(QString("%1.  image %2: %3").arg(index).arg(mm2.slice + 1).arg(q(mm2.text)), f.body(), 3 * mm, -1, 0.8);
    }
    f.y() += 1.5 * mm;
  }

  // Key images, two per row.
  if (!r.keyImages.empty()) {
    f.rule();
    const double gap = 5 * mm, colW = (f.width() - gap) / 2;
    // The heading stays with the first row of images.
    const QImage first = renderKeyImage(r, scan, r.keyImages.front(), 1100);
    f.ensure(f.textHeight("Key images", f.heading(), f.width()) + 1.5 * mm + colW * first.height() / first.width() + 3 * mm);
    f.paragraph("Key images", f.heading(), 0, -1, 1.5);
    for (std::size_t i = 0; i < r.keyImages.size(); i += 2) {
      std::vector<QImage> row;
      double rowH = 0;
      for (std::size_t k = i; k < std::min(r.keyImages.size(), i + 2); ++k) {
        row.push_back(renderKeyImage(r, scan, r.keyImages[k], 1100));
        rowH = std::max(rowH, colW * row.back().height() / row.back().width());
      }
      f.ensure(rowH + 3 * mm);
      for (std::size_t k = 0; k < row.size(); ++k) {
        const double h = colW * row[k].height() / row[k].width();
        painter.drawImage(QRectF(static_cast<double>(k) * (colW + gap), f.y(), colW, h), row[k]);
      }
      f.y() += rowH + 4 * mm;
    }
  }
  f.finish();
  painter.end();
  return f.page();
}

void setUp(QPdfWriter& writer, const report::Report& r) {
  writer.setResolution(300);
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setPageMargins(QMarginsF(16, 14, 16, 12), QPageLayout::Millimeter);
  writer.setTitle("Anomaly detection report");
  writer.setCreator(QString::fromStdString(r.software));
}

}  // namespace

int writeReportPdf(const report::Report& r, const Volume& scan, const QString& path) {
  // Two passes: the first counts the pages ("page i of n"), the second writes them.
  QBuffer scratch;
  scratch.open(QIODevice::WriteOnly);
  int pages = 0;
  {
    QPdfWriter dry(&scratch);
    setUp(dry, r);
    pages = layoutReport(dry, r, scan, 0);
  }
  writeAtomically(path.toStdString(), [&](const std::string& tmp) {
    QFile file(QString::fromStdString(tmp));
    if (!file.open(QIODevice::WriteOnly)) throw FileError(tmp, "cannot create: " + file.errorString().toStdString());
    {
      QPdfWriter writer(&file);
      setUp(writer, r);
      layoutReport(writer, r, scan, pages);
    }
    if (!file.flush()) throw FileError(tmp, "cannot write: " + file.errorString().toStdString());
    file.close();
  });
  return pages;
}

}  // namespace al::ui
