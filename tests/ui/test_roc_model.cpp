// The ROC presenter: curve and AUC from the slice scores and labels (mask, then the user's
// marks), the operating point of the shared threshold and the histograms.

#include <QSignalSpy>
#include <QTest>
#include <cmath>

#include "eval/Metrics.h"
#include "roc/RocModel.h"

using namespace al;

class TestRocModel : public QObject {
  Q_OBJECT
 private slots:
  void curveAucAndOperatingPoint() {
    ui::RocModel m;
    const std::vector<double> scores = {0.1, 0.4, 0.35, 0.8, std::nan(""), 0.7, 0.2};
    const std::vector<int> labels = {0, 0, 1, 1, 1, -1, 0};
    m.setData(scores, labels, 0.3);
    QVERIFY(m.hasCurve());
    QCOMPARE(m.count(0), 3);
    QCOMPARE(m.count(1), 2);  // the unscored slice is left out
    const double expected = eval::auc({0.1, 0.4, 0.35, 0.8, 0.2}, {0, 0, 1, 1, 0});
    QCOMPARE(m.auc(), expected);
    QVERIFY(!m.curve().empty());
    const auto op = m.operatingPoint();
    QVERIFY(op.has_value());
    // At 0.3: both abnormal slices above, one of three healthy ones (0.4) above.
    QCOMPARE(op->second, 1.0);
    QCOMPARE(op->first, 1.0 / 3.0);
    QVERIFY(m.summary().contains(QStringLiteral("AUC")));
  }

  void userMarksWinOverTheMask() {
    ui::RocModel m;
    m.setData({0.1, 0.9, 0.5}, {}, 0.6);
    QVERIFY(!m.hasCurve());
    QVERIFY(m.summary().contains(QStringLiteral("needs both")));
    QSignalSpy changed(&m, &ui::RocModel::changed);
    m.setUserLabel(0, 0);
    m.setUserLabel(1, 1);
    QVERIFY(m.hasCurve());
    QCOMPARE(m.auc(), 1.0);
    QCOMPARE(changed.count(), 2);
    m.setUserLabel(1, -1);
    QVERIFY(!m.hasCurve());
    m.setData({0.1, 0.9, 0.5}, {1, 0, -1}, 0.6);  // same slices: the marks stay
    QCOMPARE(m.label(0), 0);
    QCOMPARE(m.userLabel(1), -1);
    QCOMPARE(m.label(1), 0);
    m.setUserLabels({{2, 1}});
    QCOMPARE(m.label(2), 1);
    QCOMPARE(m.label(0), 1);  // the user's mark on 0 is gone: the mask's label again
    m.setData({0.1, 0.9}, {}, 0.6);  // another scan: marks dropped
    QCOMPARE(m.userLabel(2), -1);
  }

  void thresholdSignalsAndHistogram() {
    ui::RocModel m;
    QSignalSpy threshold(&m, &ui::RocModel::thresholdChanged);
    m.setData({0.0, 0.25, 0.5, 0.75, 1.0}, {0, 0, 1, 1, -1}, std::nullopt);
    m.setThreshold(0.6);
    m.setThreshold(0.6);
    QCOMPARE(threshold.count(), 1);
    QCOMPARE(threshold.first().first().toDouble(), 0.6);
    const auto h = m.histogram(4);
    QCOMPARE(h.edges.size(), std::size_t{5});
    int healthy = 0, abnormal = 0, unlabelled = 0;
    for (int i = 0; i < 4; ++i) {
      healthy += h.healthy[static_cast<std::size_t>(i)];
      abnormal += h.abnormal[static_cast<std::size_t>(i)];
      unlabelled += h.unlabelled[static_cast<std::size_t>(i)];
    }
    QCOMPARE(healthy, 2);
    QCOMPARE(abnormal, 2);
    QCOMPARE(unlabelled, 1);
    QCOMPARE(h.unlabelled.back(), 1);  // 1.0 falls in the last bin, not past it
    QVERIFY(std::abs(m.youden() - 0.5) < 1e-12);
  }
};

QTEST_MAIN(TestRocModel)
#include "test_roc_model.moc"
