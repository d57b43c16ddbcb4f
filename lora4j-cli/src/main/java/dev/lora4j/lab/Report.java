package dev.lora4j.lab;

import dev.lora4j.io.AtomicFiles;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * A self-contained HTML report (tables, and charts drawn with JFreeChart as PNG embedded in the page),
 * written as report/index.html with each chart also saved beside it as a PNG file.
 */
public final class Report {
    static {
        // PNGs are encoded in memory: ImageIO's default disk cache writes temporary files (and fails on a full disk)
        javax.imageio.ImageIO.setUseCache(false);
    }

    private final StringBuilder body = new StringBuilder();
    private final String title;
    private final Map<String, byte[]> images = new java.util.LinkedHashMap<>();

    public Report(String title) {
        this.title = title;
        System.setProperty("java.awt.headless", "true");
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    public Report heading(String text) {
        body.append("<h2>").append(esc(text)).append("</h2>\n");
        return this;
    }

    public Report paragraph(String text) {
        body.append("<p>").append(esc(text)).append("</p>\n");
        return this;
    }

    public Report table(List<String> header, List<List<String>> rows) {
        body.append("<table><tr>");
        header.forEach(h -> body.append("<th>").append(esc(h)).append("</th>"));
        body.append("</tr>\n");
        for (List<String> r : rows) {
            body.append("<tr>");
            r.forEach(c -> body.append("<td>").append(esc(c)).append("</td>"));
            body.append("</tr>\n");
        }
        body.append("</table>\n");
        return this;
    }

    private Report chart(String file, JFreeChart chart, int w, int h) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(png, chart, w, h);
        images.put(file, png.toByteArray());
        body.append("<p><img alt=\"").append(esc(chart.getTitle() == null ? file : chart.getTitle().getText()))
                .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(png.toByteArray())).append("\"></p>\n");
        return this;
    }

    /** A line chart of y against x, one series per entry. */
    public Report lines(String file, String chartTitle, String x, String y, Map<String, double[][]> series, boolean logY) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        series.forEach((name, pts) -> {
            XYSeries s = new XYSeries(name);
            for (double[] p : pts) s.add(p[0], p[1]);
            data.addSeries(s);
        });
        JFreeChart c = ChartFactory.createXYLineChart(chartTitle, x, y, data, PlotOrientation.VERTICAL, series.size() > 1, false, false);
        XYPlot plot = (XYPlot) c.getPlot();
        if (logY) plot.setRangeAxis(new org.jfree.chart.axis.LogarithmicAxis(y));
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        Color[] palette = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};
        for (int i = 0; i < data.getSeriesCount(); i++) {
            plot.getRenderer().setSeriesPaint(i, palette[i % palette.length]);
            plot.getRenderer().setSeriesStroke(i, new java.awt.BasicStroke(2f));
        }
        return chart(file, c, 800, 420);
    }

    /** A bar chart of one value per category. */
    public Report bars(String file, String chartTitle, String valueLabel, Map<String, Double> values) throws IOException {
        DefaultCategoryDataset d = new DefaultCategoryDataset();
        values.forEach((k, v) -> d.addValue(v, valueLabel, k));
        JFreeChart c = ChartFactory.createBarChart(chartTitle, "", valueLabel, d, PlotOrientation.HORIZONTAL, false, false, false);
        c.getCategoryPlot().setBackgroundPaint(Color.WHITE);
        c.getCategoryPlot().setRangeGridlinePaint(Color.LIGHT_GRAY);
        c.getCategoryPlot().getRenderer().setSeriesPaint(0, new Color(0x1f77b4));
        ((org.jfree.chart.renderer.category.BarRenderer) c.getCategoryPlot().getRenderer()).setBarPainter(new org.jfree.chart.renderer.category.StandardBarPainter());
        return chart(file, c, 900, Math.max(300, 22 * values.size() + 120));
    }

    /** A heat map of m[i][j] in [0, 1], i on the vertical axis, j on the horizontal, both from 1. */
    public Report heatMap(String file, String chartTitle, String xLabel, String yLabel, double[][] m) throws IOException {
        int rows = m.length, cols = m[0].length;
        double[][] series = new double[3][rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                series[0][i * cols + j] = j + 1;
                series[1][i * cols + j] = i + 1;
                series[2][i * cols + j] = m[i][j];
            }
        DefaultXYZDataset d = new DefaultXYZDataset();
        d.addSeries("phi", series);
        LookupPaintScale scale = new LookupPaintScale(0, 1.0001, Color.WHITE);
        for (int k = 0; k <= 20; k++) {
            float v = k / 20f;
            scale.add(v, new Color(1f - 0.8f * v, 1f - 0.6f * v, 1f - 0.1f * v));
        }
        XYBlockRenderer r = new XYBlockRenderer();
        r.setPaintScale(scale);
        NumberAxis xa = new NumberAxis(xLabel), ya = new NumberAxis(yLabel);
        xa.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        ya.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        xa.setRange(0.5, cols + 0.5);
        ya.setRange(0.5, rows + 0.5);
        XYPlot plot = new XYPlot(d, xa, ya, r);
        JFreeChart c = new JFreeChart(chartTitle, plot);
        c.removeLegend();
        PaintScaleLegend legend = new PaintScaleLegend(scale, new NumberAxis("phi"));
        legend.setPosition(RectangleEdge.RIGHT);
        c.addSubtitle(legend);
        return chart(file, c, 520, 440);
    }

    /** Writes dir/index.html and the charts as PNG files beside it. */
    public Path write(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (var e : images.entrySet()) AtomicFiles.write(dir.resolve(e.getKey()), out -> out.write(e.getValue()));
        String html = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(title) + "</title><style>"
                + "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
                + "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}th{background:#f3f3f3}"
                + "td:first-child{text-align:left}</style></head><body>\n<h1>" + esc(title) + "</h1>\n" + body + "</body></html>\n";
        Path index = dir.resolve("index.html");
        AtomicFiles.writeString(index, html);
        return index;
    }
}
