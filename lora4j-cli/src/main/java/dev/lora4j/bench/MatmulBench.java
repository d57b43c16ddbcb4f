package dev.lora4j.bench;

import dev.lora4j.kernels.Gemm;
import dev.lora4j.tensor.Mat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * fp32 matmul throughput on the shapes of a GPT-2-small training step, in every layout the
 * forward and backward passes use. Each case is warmed up, then timed as the best of several
 * repetitions (the machine is shared and noisy: the best run is the least disturbed one).
 */
public final class MatmulBench {
    /** M×K×N in a layout: NN = A·B (forward through GPT-2's Conv1D), NT = A·Bᵀ (forward through
     *  nn.Linear, or backward to the input through Conv1D), TN = Aᵀ·B (weight gradient). */
    public record Case(int m, int k, int n, String layout) {
        public double flops() {
            return 2.0 * m * k * n;
        }

        @Override
        public String toString() {
            return m + "x" + k + "x" + n + " " + layout;
        }
    }

    public record Result(Case shape, double gflops, double millis) {}

    public static List<Case> gpt2SmallCases() {
        List<Case> cases = new ArrayList<>();
        int[][] shapes = {{1024, 768, 2304}, {1024, 768, 768}, {1024, 768, 3072}, {1024, 3072, 768}};
        for (int[] s : shapes) for (String layout : List.of("NN", "NT", "TN")) cases.add(new Case(s[0], s[1], s[2], layout));
        return cases;
    }

    public static Result run(Case cs, double seconds) {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] a = new float[cs.m * cs.k], b = new float[cs.k * cs.n], c = new float[cs.m * cs.n];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextDouble(-1, 1);
        Mat am = switch (cs.layout.charAt(0)) {
            case 'N' -> Mat.of(a, 0, cs.m, cs.k);
            default -> Mat.of(a, 0, cs.k, cs.m).t();
        };
        Mat bm = switch (cs.layout.charAt(1)) {
            case 'N' -> Mat.of(b, 0, cs.k, cs.n);
            default -> Mat.of(b, 0, cs.n, cs.k).t();
        };
        long end = System.nanoTime() + (long) (seconds * 0.3e9);
        while (System.nanoTime() < end) Gemm.matmul(am, bm, c, 0, cs.n, false);
        double best = Double.MAX_VALUE;
        end = System.nanoTime() + (long) (seconds * 0.7e9);
        int reps = 0;
        while (reps < 3 || System.nanoTime() < end) {
            long t0 = System.nanoTime();
            Gemm.matmul(am, bm, c, 0, cs.n, false);
            best = Math.min(best, (System.nanoTime() - t0) / 1e6);
            reps++;
        }
        return new Result(cs, cs.flops() / (best * 1e6), best);
    }
}
