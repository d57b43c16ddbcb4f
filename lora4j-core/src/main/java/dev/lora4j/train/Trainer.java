package dev.lora4j.train;

import dev.lora4j.Lora4jException;
import dev.lora4j.data.Batch;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.model.Transformer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The training loop over loaded objects, for LoRA adapters or every weight: batches in a seeded order,
 * gradient accumulation (the loss is the mean over every target token of the accumulated micro-batches,
 * as one big batch would give), clipping, an optimizer step at the scheduled learning rate, evaluation.
 * It reads no file and writes none: what a run leaves behind (metrics, checkpoints, the adapter) is the
 * listener's business ({@link TrainingRun} is the one the command line uses).
 *
 * <p>Everything random derives from the seed and the step (data order from (seed, epoch), dropout
 * from (seed, step)), so a run continued from a {@link TrainState} goes on exactly as if never stopped.
 */
public final class Trainer {
    /**
     * How a fit ended.
     *
     * @param steps    optimizer steps done (the run's length, or fewer when stopped)
     * @param lastLoss the last step's loss (NaN when no step ran)
     * @param stopped  the listener asked the run to stop before its end
     * @param train    the training loss at every step of this call
     * @param eval     the evaluation loss at every evaluation of this call
     */
    public record Result(long steps, double lastLoss, boolean stopped, List<TrainListener.Point> train, List<TrainListener.Point> eval) {}

    private final Trainable model;
    private final TokenDataset data, evalData;
    private final TrainConfig c;
    private final TrainListener listener;
    private final StepEngine engine;

    private Trainer(Trainable model, TokenDataset data, TokenDataset evalData, TrainConfig c, TrainListener listener, StepEngine engine) {
        this.engine = engine;
        this.model = model;
        this.data = data;
        this.evalData = evalData;
        this.c = c;
        this.listener = listener;
    }

    /**
     * Trains model on train for the configured steps (or epochs), evaluating on eval (may be null) at the
     * configured cadence and at the end. The model is left in inference mode.
     *
     * @throws Lora4jException when the data has no target token, or a step makes the loss or a weight non-finite
     *                         (the weights are then those of that bad step: discard them)
     */
    public static Result fit(Trainable model, TokenDataset train, TokenDataset eval, TrainConfig config, TrainListener listener) {
        return fit(model, train, eval, config, listener, TrainState.START);
    }

    /** As {@link #fit(Trainable, TokenDataset, TokenDataset, TrainConfig, TrainListener)}, continuing from a saved state. */
    public static Result fit(Trainable model, TokenDataset train, TokenDataset eval, TrainConfig config, TrainListener listener, TrainState from) {
        return fit(model, train, eval, config, listener, from, StepEngine.LOCAL);
    }

    /**
     * As {@link #fit(Trainable, TokenDataset, TokenDataset, TrainConfig, TrainListener, TrainState)}, with the forward and
     * backward passes run by engine (lora4j-spark's runs them on a cluster).
     */
    public static Result fit(Trainable model, TokenDataset train, TokenDataset eval, TrainConfig config, TrainListener listener, TrainState from,
                             StepEngine engine) {
        try {
            return new Trainer(model, train, eval, config, listener, engine).loop(from);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            model.setTraining(false, 0);
        }
    }

    /** The sequence length batches are cut to: the configured one, bounded by the model's context. */
    static int seqLen(TrainConfig c, Transformer model) {
        return Math.min(c.seqLen(), model.config().maxPositions());
    }

    private Result loop(TrainState from) throws IOException {
        List<int[]> examples = data.examples();
        int n = examples.size(), bsz = c.batchSize(), maxT = seqLen(c, model.model()), t = 1;
        requireTargets(data, maxT);
        for (int[] e : examples) t = Math.max(t, Math.min(maxT, e.length));
        long total = c.totalSteps(n), microPerEpoch = (n + bsz - 1) / bsz, start = from.step();
        List<Parameter> params = model.parameters();
        Optimizer opt = c.optimizer().create(params);
        if (from.optimizerState() != null) {
            if (from.optimizerState().size() != opt.state().size())
                throw new Lora4jException("the saved optimizer state holds " + from.optimizerState().size() + " arrays, this optimizer needs "
                        + opt.state().size());
            opt.restore(from.optimizerState(), from.optimizerSteps());
        }
        if (start >= total) return new Result(start, Double.NaN, false, List.of(), List.of());
        StepEngine.Run run = new StepEngine.Run(model, data, evalData, c, t, epoch -> order(n, epoch));
        try (StepEngine.Steps steps = engine.open(run)) {
            return steps(steps, from, opt, params, total, microPerEpoch, t);
        }
    }

    private Result steps(StepEngine.Steps steps, TrainState from, Optimizer opt, List<Parameter> params, long total, long microPerEpoch, int t)
            throws IOException {
        List<int[]> examples = data.examples();
        int n = examples.size(), bsz = c.batchSize();
        long start = from.step();
        List<TrainListener.Point> curve = new ArrayList<>(), evalCurve = new ArrayList<>();
        Map<Long, int[]> orders = new LinkedHashMap<>();
        long t0 = System.nanoTime(), tokensSeen = 0, firstStepEnd = 0;
        double lastLoss = Double.NaN;
        long step = start;
        for (; step < total; step++) {
            if (listener.stopRequested()) {
                listener.onCheckpoint(new TrainState(step, opt.state(), opt.steps()));
                return new Result(step, lastLoss, true, curve, evalCurve);
            }
            float lr = (float) (c.optimizer().lr() * c.schedule().factor(step, total));
            List<int[]> micro = new ArrayList<>();
            long count = 0;
            for (int a = 0; a < c.gradAccum(); a++) {
                long mi = step * c.gradAccum() + a, epoch = mi / microPerEpoch;
                int[] order = orders.computeIfAbsent(epoch, e -> order(n, e));
                if (orders.size() > 2) orders.remove(orders.keySet().iterator().next());
                int first = (int) (mi % microPerEpoch) * bsz, last = Math.min(n, first + bsz);
                int[] rows = java.util.Arrays.copyOfRange(order, first, last);
                micro.add(rows);
                for (int r : rows) {
                    int[] e = examples.get(r);
                    count += Batch.targets(e, data.labels() == null ? null : data.labels().get(r), t);
                    tokensSeen += Math.min(t, e.length);
                }
            }
            double sum = steps.step(step, micro, Math.max(1, count));
            double loss = sum / Math.max(1, count);
            if (!Double.isFinite(loss))
                throw new Lora4jException("loss is " + loss + " at step " + (step + 1) + "; stopped without saving this step"
                        + " (the last checkpoint, if any, holds the last good state); try a lower --lr or --max-grad-norm");
            double gradNorm = Optimizer.clipGradNorm(params, c.maxGradNorm());
            opt.step(params, lr);
            requireFinite(params, step + 1, gradNorm);
            lastLoss = loss;
            curve.add(new TrainListener.Point(step + 1, loss));
            double secs = (System.nanoTime() - t0) / 1e9;
            // the first step of a run carries the JIT's warm-up: the ETA counts the steps after it
            if (step == start) firstStepEnd = System.nanoTime();
            double eta = step == start ? Double.NaN : (System.nanoTime() - firstStepEnd) / 1e9 / (step - start) * (total - step - 1);
            listener.onStep(new TrainListener.Step(step + 1, total, loss, lr, gradNorm, tokensSeen / Math.max(secs, 1e-9), secs, eta));
            boolean last = step + 1 == total;
            if (evalData != null && (last || c.evalEvery() > 0 && (step + 1) % c.evalEvery() == 0)) {
                Evaluator.Result r = steps.evaluate();
                evalCurve.add(new TrainListener.Point(step + 1, r.loss()));
                listener.onEval(step + 1, r);
            }
            if (c.saveEvery() > 0 && ((step + 1) % c.saveEvery() == 0 || last)) listener.onCheckpoint(new TrainState(step + 1, opt.state(), opt.steps()));
        }
        return new Result(total, lastLoss, false, curve, evalCurve);
    }

    /** Refuses data in which no token counts in the loss (truncated to t): training on it would change nothing. */
    static void requireTargets(TokenDataset data, int t) {
        if (data.targetTokens(t) == 0)
            throw new Lora4jException((data.source() == null ? "the training data" : data.source().toString())
                    + ": no example has a token to learn (examples of one token, or every label -100 within --seq-len " + t
                    + "): there is nothing to train on");
    }

    /** An update that made any weight NaN or infinite stops the run before anything of that step is saved. */
    private void requireFinite(List<Parameter> params, long step, double gradNorm) {
        for (Parameter p : params) {
            float[] v = p.value();
            for (int i = 0; i < v.length; i++) {
                if (Float.isFinite(v[i])) continue;
                throw new Lora4jException(String.format(Locale.ROOT, "step %d made %s[%d] %s (gradient norm %.4g, lr %s);"
                        + " stopped without saving this step (the last checkpoint, if any, holds the last good state); try a lower --lr or --max-grad-norm",
                        step, p.name(), i, v[i], gradNorm, c.optimizer().lr()));
            }
        }
    }

    /** The order of the examples in an epoch: a seeded shuffle (from the seed and the epoch alone), or as given. */
    private int[] order(int n, long epoch) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        if (!c.shuffle()) return idx;
        SplittableRandom r = new SplittableRandom(c.seed() * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        return idx;
    }
}
