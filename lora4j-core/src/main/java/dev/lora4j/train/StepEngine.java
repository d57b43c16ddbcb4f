package dev.lora4j.train;

import dev.lora4j.data.Batch;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.model.Activations;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the forward and backward passes of training run: in this process ({@link #LOCAL}), or spread
 * over the executors of a cluster (lora4j-spark). {@link Trainer} keeps everything else to itself: the
 * data order, which examples make each step, the learning-rate schedule, clipping, the optimizer step
 * and the checkpoints, so an engine changes where the gradients are computed and nothing else.
 */
public interface StepEngine {
    /** Opens the engine for one run; the returned steps are closed when the run ends. */
    Steps open(Run run);

    /** Refuses, before anything is written, a run this engine cannot do (with the reason and the option to change). */
    default void check(TrainOptions options) {}

    /**
     * What a run hands its engine.
     *
     * @param model  the trainable model on this process (the optimizer updates its parameters)
     * @param train  the training examples (after truncation or packing)
     * @param eval   the evaluation examples, or null
     * @param config the training configuration
     * @param seqLen the length every training batch is padded to: the longest example, at most the configured length
     * @param order  the order of the training examples in an epoch (indices; the step's micro-batches are consecutive runs of it),
     *               so that an engine can lay the data out ahead of the steps
     */
    record Run(Trainable model, TokenDataset train, TokenDataset eval, TrainConfig config, int seqLen, java.util.function.LongFunction<int[]> order) {}

    /**
     * The passes of one run.
     */
    interface Steps extends AutoCloseable {
        /**
         * Forward and backward over one optimizer step's examples: afterwards the model's parameter gradients
         * hold the gradient of (the sum of every target token's loss) / targets.
         *
         * @param step    the 0-based optimizer step (seeds the dropout masks)
         * @param micro   the step's micro-batches, as indices into the training examples (at most batchSize each)
         * @param targets the step's target tokens (the normaliser)
         * @return the sum of the target tokens' losses
         */
        double step(long step, List<int[]> micro, long targets);

        /** The loss over the evaluation examples, with the current parameters. */
        Evaluator.Result evaluate();

        @Override
        default void close() {}
    }

    /** Everything in this process, on {@link dev.lora4j.tensor.Parallel}'s threads. */
    StepEngine LOCAL = run -> new Steps() {
        private final Activations act = activations(run.model().model().config(), run.config(), run.config().batchSize(), run.seqLen());

        @Override
        public double step(long step, List<int[]> micro, long targets) {
            Trainable m = run.model();
            TrainConfig c = run.config();
            m.zeroGrad();
            double sum = 0;
            for (int a = 0; a < micro.size(); a++) {
                Batch b = batch(run.train(), micro.get(a), c.batchSize(), run.seqLen());
                if (b.targetCount() == 0) continue;
                m.setTraining(true, c.seed() * 1_000_003L + step * 31 + a);
                sum += m.model().loss(b.tokens(), b.targets(), b.b(), b.t(), act, 1f / targets).sum();
            }
            return sum;
        }

        @Override
        public Evaluator.Result evaluate() {
            run.model().setTraining(false, 0);
            TokenDataset e = run.eval();
            return Evaluator.evaluate(run.model().model(), e.examples(), e.labels(), run.config().seqLen(), run.config().batchSize());
        }
    };

    /** Training buffers for (rows, t) batches, recomputing the blocks' activations when the config asks for gradient checkpointing. */
    static Activations activations(dev.lora4j.model.ModelConfig model, TrainConfig c, int rows, int t) {
        return c.gradientCheckpointing() ? Activations.recomputing(model, rows, t) : new Activations(model, rows, t, true);
    }

    /** The examples at indices laid out as one (rows, t) batch, padded to rows. */
    static Batch batch(TokenDataset data, int[] indices, int rows, int t) {
        List<int[]> ids = new ArrayList<>(indices.length), labels = new ArrayList<>(indices.length);
        for (int i : indices) {
            ids.add(data.examples().get(i));
            labels.add(data.labels() == null ? null : data.labels().get(i));
        }
        return Batch.of(ids, labels, 0, rows, t);
    }
}
