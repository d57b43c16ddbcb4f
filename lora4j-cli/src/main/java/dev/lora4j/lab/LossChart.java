package dev.lora4j.lab;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.train.TrainListener;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Draws the training (and evaluation) loss against the step into a PNG, with JFreeChart, headless. */
public final class LossChart {
    static {
        // PNGs are encoded in memory: ImageIO's default disk cache writes temporary files (and fails on a full disk)
        javax.imageio.ImageIO.setUseCache(false);
    }

    private LossChart() {}

    public static void write(Path png, String title, List<TrainListener.Point> train, List<TrainListener.Point> eval) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYSeries t = new XYSeries("train loss");
        train.forEach(p -> t.add(p.step(), p.loss()));
        XYSeriesCollection data = new XYSeriesCollection(t);
        if (!eval.isEmpty()) {
            XYSeries e = new XYSeries("eval loss");
            eval.forEach(p -> e.add(p.step(), p.loss()));
            data.addSeries(e);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "loss", data, PlotOrientation.VERTICAL, true, false, false);
        var plot = chart.getXYPlot();
        plot.setBackgroundPaint(java.awt.Color.WHITE);
        plot.setDomainGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(java.awt.Color.LIGHT_GRAY);
        plot.getRenderer().setSeriesPaint(0, new java.awt.Color(0x1f77b4));
        plot.getRenderer().setSeriesPaint(1, new java.awt.Color(0xd62728));
        AtomicFiles.write(png, out -> ChartUtils.writeChartAsPNG(out, chart, 900, 500));
    }
}
