package dev.lora4j.cli;

import dev.lora4j.data.TokenDataset;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.train.DataConfig;
import dev.lora4j.train.OptimizerConfig;
import dev.lora4j.train.OptionsJson;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.ScheduleConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.StepEngine;
import dev.lora4j.train.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tune with LoRA (or DoRA, IA³, prompt or prefix tuning, bottleneck adapters, --full) and write a PEFT adapter.",
                "--out receives adapter_config.json and adapter_model.safetensors (or a full checkpoint), metrics.jsonl and",
                "loss.png. Data: JSONL, one example a line (input_ids, text, prompt + completion, or chat messages), or .txt."})
public final class TrainCommand implements Callable<Integer> {
    /** Where the passes run: this process unless a launcher (lora4j-spark's) says otherwise when the command runs. */
    private Supplier<StepEngine> engine = () -> StepEngine.LOCAL;

    public TrainCommand() {}

    /** The same command, its forward and backward passes run by the engine (made once the options are parsed). */
    public TrainCommand engine(Supplier<StepEngine> engine) {
        this.engine = engine;
        return this;
    }

    @Option(names = "--task", defaultValue = "causal-lm", paramLabel = "causal-lm|seq-cls", description = {
            "causal-lm (default): next-token training of a decoder. seq-cls: a BERT-family encoder with a classification head on",
            "{\"text\", \"label\"} lines; LoRA on query and value plus the head (PEFT task_type SEQ_CLS), or --probe, or --full. Its defaults:",
            "--lr 1e-3 (--probe 1e-2, --full 5e-5), --alpha 2·r, --epochs 3, --batch-size 16, --seq-len 128; --eval-data reports accuracy and macro-F1."})
    String task;
    @Option(names = "--probe", description = "With --task seq-cls: train only the head over the frozen encoder (a linear probe).")
    boolean probe;

    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;
    @Option(names = "--data", paramLabel = "FILE", description = "Training data: JSONL (input_ids (+ labels), text, prompt + completion, or messages per line) or .txt.")
    Path data;
    @Option(names = "--out", paramLabel = "DIR", description = "Output directory: new or empty (an earlier run there: --resume it or --overwrite it).")
    Path out;

    @Option(names = "--config", paramLabel = "FILE", description = "Options as JSON (the \"options\" of a checkpoint's trainer_state.json,"
            + " or that file); options given here win. See the README's Training section.")
    Path config;

    @Option(names = "--r", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int r;
    @Option(names = "--alpha", defaultValue = "8", description = "lora_alpha; scale = alpha/r (default: ${DEFAULT-VALUE}).")
    double alpha;
    @Option(names = "--dropout", defaultValue = "0.0", description = "lora_dropout on the adapter input (default: ${DEFAULT-VALUE}).")
    double dropout;
    @Option(names = "--target", paramLabel = "LIST", description = "Modules to adapt: comma list (exact name or .suffix), or all-linear. Default: c_attn (GPT-2), q_proj,v_proj (Llama family).")
    String target;
    @Option(names = "--target-regex", paramLabel = "REGEX", description = "Modules to adapt: a regex that must match the whole module name.")
    String targetRegex;
    @Option(names = "--layers", paramLabel = "LIST", split = ",", description = "Only these layer indices (layers_to_transform).")
    List<Integer> layers;
    @Option(names = "--rank-pattern", paramLabel = "KEY=R,...", split = ",", description = "Per-module ranks (PEFT's rank_pattern): module name or regex suffix = rank.")
    java.util.Map<String, Integer> rankPattern;
    @Option(names = "--alpha-pattern", paramLabel = "KEY=A,...", split = ",", description = "Per-module alphas (PEFT's alpha_pattern).")
    java.util.Map<String, Double> alphaPattern;
    @Option(names = "--init", defaultValue = "kaiming", description = "Initialisation: kaiming or gaussian (of A; B starts at 0), or pissa, pissa_niter_N, olora"
            + " (A and B from the base weight's top singular vectors or QR; the rest is what stays frozen) (default: ${DEFAULT-VALUE}).")
    String init;
    @Option(names = "--rslora", description = "Rank-stabilised scaling alpha/sqrt(r).")
    boolean rslora;

    @Option(names = "--modules-to-save", paramLabel = "LIST", split = ",", description = "Also train whole copies of these (PEFT's modules_to_save):"
            + " the input embedding (embed_tokens, or wte for GPT-2) and/or lm_head, saved in the adapter file.")
    List<String> modulesToSave;
    @Option(names = "--trainable-token-indices", paramLabel = "IDS", split = ",", description = "Also train the input embedding's rows of these token"
            + " ids (PEFT's trainable_token_indices, e.g. new tokens); in a tied model the head's rows follow.")
    List<Integer> trainableTokenIndices;

    @Option(names = "--lora-bias", description = "Train a bias on each lora_B too (PEFT's lora_bias), merged into the base's bias.")
    boolean loraBias;

    @Option(names = "--ia3", description = "IA³ instead of LoRA (PEFT's IA3): a vector rescales each target's output, or its input for --feedforward"
            + " modules; starts at 1. Default targets: k_proj, v_proj, down_proj (c_attn, mlp.c_proj for GPT-2).")
    boolean ia3;
    @Option(names = "--feedforward", paramLabel = "LIST", description = "With --ia3: the targets whose input is rescaled (PEFT's feedforward_modules;"
            + " default: down_proj, or mlp.c_proj for GPT-2).")
    String feedforward;

    @Option(names = "--bottleneck-size", paramLabel = "M", description = "Houlsby bottleneck adapters of width M instead of LoRA, after the attention's"
            + " and the MLP's output projections (o_proj, down_proj; attn.c_proj, mlp.c_proj for GPT-2; or --target): y = z + U·gelu(D·z); not mergeable.")
    int bottleneckSize;

    @Option(names = "--prompt-tuning", paramLabel = "N", description = "Prompt tuning instead of LoRA (PEFT's PROMPT_TUNING): N learned embeddings"
            + " before every sequence, the base untouched; they take N positions of the context. --lr defaults to 3e-2 with it.")
    int promptTuning;
    @Option(names = "--prefix-tuning", paramLabel = "N", description = "Prefix tuning instead of LoRA (PEFT's PREFIX_TUNING): N learned keys and"
            + " values at every layer that each token attends to before its own; they take N positions of the context. --lr defaults to 3e-2 with it.")
    int prefixTuning;
    @Option(names = "--prompt-init", paramLabel = "KIND", description = "With --prompt-tuning: how the embeddings start: random (normal draws, PEFT's"
            + " default), sample-vocab (rows of random tokens) or text (--prompt-init-text's tokens).")
    String promptInit;
    @Option(names = "--prompt-init-text", paramLabel = "TEXT", description = "With --prompt-tuning: start from this text's token embeddings (repeated or cut to N).")
    String promptInitText;

    @Option(names = "--dora", description = "DoRA (PEFT's use_dora): also train a magnitude per output over the normalised W0 + s·B·A.")
    boolean dora;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "adamw or sgd (default: ${DEFAULT-VALUE}).")
    String optimizer;
    @Option(names = "--momentum", defaultValue = "0", description = "SGD momentum (default: ${DEFAULT-VALUE}).")
    double momentum;
    @Option(names = "--lr", defaultValue = "2e-4", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;
    @Option(names = "--weight-decay", defaultValue = "0", description = "Weight decay; decoupled for AdamW, L2 for SGD (default: ${DEFAULT-VALUE}).")
    double weightDecay;
    @Option(names = "--betas", defaultValue = "0.9,0.999", description = "AdamW betas (default: ${DEFAULT-VALUE}).")
    String betas;
    @Option(names = "--eps", defaultValue = "1e-8", description = "AdamW eps (default: ${DEFAULT-VALUE}).")
    double eps;
    @Option(names = "--loraplus-lr-ratio", defaultValue = "1", paramLabel = "R",
            description = "LoRA+: LoRA's B matrices learn at R times --lr (PEFT's loraplus_lr_ratio; the paper suggests about 16; default: ${DEFAULT-VALUE}, plain LoRA).")
    double loraplusLrRatio;
    @Option(names = "--schedule", defaultValue = "linear", description = "constant, linear or cosine (default: ${DEFAULT-VALUE}).")
    String schedule;
    @Option(names = "--warmup-steps", defaultValue = "0", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).")
    long warmupSteps;
    @Option(names = "--steps", defaultValue = "0", description = "Optimizer steps (default: as many as --epochs take).")
    long steps;
    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the data when --steps is not given (default: ${DEFAULT-VALUE}).")
    int epochs;
    @Option(names = "--batch-size", defaultValue = "8", description = "Examples per micro-batch (default: ${DEFAULT-VALUE}).")
    int batchSize;
    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step (default: ${DEFAULT-VALUE}).")
    int gradAccum;
    @Option(names = "--seq-len", defaultValue = "512", description = "Truncate examples to this many tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;
    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Clip the global gradient norm; 0 disables (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;
    @Option(names = "--seed", defaultValue = "42", description = "Seed of initialisation, data order and dropout (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--no-shuffle", description = "Keep the data in file order.")
    boolean noShuffle;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Evaluation data (the same formats as --data).")
    Path evalData;
    @Option(names = "--eval-every", defaultValue = "0", description = "Evaluate every N steps (and at the end).")
    long evalEvery;
    @Option(names = "--save-every", defaultValue = "0", description = "Write a resumable checkpoint-N every N steps.")
    long saveEvery;
    @Option(names = "--resume", paramLabel = "DIR", description = "Continue a run from its checkpoint (or the newest checkpoint of an output directory), with its settings; with --steps N, train a finished run further.")
    Path resume;
    @Option(names = "--init-adapter", paramLabel = "DIR", description = "Start from this PEFT adapter, taking its r, alpha and targets.")
    Path initAdapter;
    @Option(names = "--full", description = "Full fine-tuning baseline: every weight trained; --out receives a complete HF checkpoint.")
    boolean full;
    @Option(names = "--log-every", defaultValue = "0", description = "Progress line every N steps when not on a terminal (default: 20 lines per run).")
    long logEvery;
    @Option(names = "--gradient-checkpointing", description = "Keep only each block's input and recompute the rest in backward: less activation memory for one more forward pass of the blocks; the same gradients.")
    boolean gradientCheckpointing;
    @Option(names = "--pack", description = "Concatenate the examples into --seq-len blocks (HF's group_texts) instead of one per row.")
    boolean pack;
    @Option(names = "--eval-split", defaultValue = "0", paramLabel = "FRACTION", description = "Hold out this fraction of --data for evaluation (when no --eval-data).")
    double evalSplit;
    @Option(names = "--overwrite", description = "Replace the earlier run in --out (only the files it listed are deleted; anything else there is refused).")
    boolean overwrite;
    @Option(names = "--truncation", paramLabel = "right|left|drop", defaultValue = "right",
            description = "An example longer than --seq-len (not packed) keeps its first tokens (right, the default), its last (left), or is left out (drop).")
    String truncation;

    @Option(names = "--no-eos", description = "Do not end \"text\" and \"completion\" examples with the tokenizer's EOS token"
            + " (by default it is appended unless already there, as TRL's SFTTrainer does, so the model learns to stop).")
    boolean noEos;

    @Option(names = "--skip-bad-lines", description = "Count and skip data lines that are not valid examples, instead of stopping.")
    boolean skipBadLines;
    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template for \"messages\" data, instead of tokenizer_config.json's.")
    Path chatTemplate;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();
    @picocli.CommandLine.Mixin
    QuantizeOption quantize = new QuantizeOption();
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws java.io.IOException {
        threads.apply();
        if (!task.equals("causal-lm") && !task.equals("seq-cls")) throw new Lora4jException("--task must be causal-lm or seq-cls, got '" + task + "'");
        if (task.equals("seq-cls")) {
            SequenceClassification.train(sequenceClassification());
            return 0;
        }
        if (probe) throw new Lora4jException("--probe trains a classification head: use it with --task seq-cls");
        if (resume != null) {
            java.util.List<String> ignored = new ArrayList<>();
            for (var opt : spec.commandLine().getParseResult().matchedOptions()) {
                String name = opt.longestName();
                if (!java.util.Set.of("--resume", "--steps", "--threads", "--gradient-checkpointing").contains(name)) ignored.add(name);
            }
            if (!ignored.isEmpty())
                System.err.println("lora4j: note: --resume continues with the checkpoint's settings; ignored: " + String.join(", ", ignored)
                        + " (only --steps, to train further, --threads and --gradient-checkpointing apply)");
            boolean stepsGiven = given("--steps"), recompute = given("--gradient-checkpointing");
            TrainingRun.resumeChanged(resume, c -> {
                TrainConfig.Builder b = c.toBuilder();
                if (stepsGiven) b.steps(steps);
                if (recompute) b.gradientCheckpointing(gradientCheckpointing);
                return b.build();
            }, System.err, dev.lora4j.lab.CommandLineTraining.install(), engine.get());
            return 0;
        }
        TrainOptions o = options();
        StepEngine e = engine.get();
        TrainingRun.start(o, System.err, overwrite, dev.lora4j.lab.CommandLineTraining.install(), e);
        return 0;
    }

    /** The seq-cls run this command line asks for; options that only a causal LM run takes are refused by name. */
    private SequenceClassification.TrainRequest sequenceClassification() {
        List<String> foreign = new ArrayList<>();
        for (var opt : spec.commandLine().getParseResult().matchedOptions())
            if (!SequenceClassification.TRAIN_OPTIONS.contains(opt.longestName())) foreign.add(opt.longestName());
        if (!foreign.isEmpty()) throw new Lora4jException("--task seq-cls does not take " + String.join(", ", foreign));
        if (model == null || data == null || out == null) throw new Lora4jException("train --task seq-cls needs --model, --data and --out");
        if (full && probe) throw new Lora4jException("give --full or --probe, not both");
        var method = full ? dev.lora4j.encoder.SequenceClassifier.Method.FULL : probe ? dev.lora4j.encoder.SequenceClassifier.Method.PROBE
                : dev.lora4j.encoder.SequenceClassifier.Method.LORA;
        LoraConfig.Builder lora = LoraConfig.builder().r(r).alpha(given("--alpha") ? alpha : 2.0 * r).dropout(dropout);
        if (given("--target")) lora.targets(LoraConfig.parseTargets(target));
        var training = dev.lora4j.encoder.SequenceClassifier.Training.builder().lr(given("--lr") ? lr : SequenceClassification.defaultLr(method))
                .epochs(given("--epochs") ? epochs : 3).steps(steps).batchSize(given("--batch-size") ? batchSize : 16).weightDecay(weightDecay)
                .maxGradNorm(maxGradNorm).seed(seed).build();
        return new SequenceClassification.TrainRequest(model, data, out, method, lora.build(), training, given("--seq-len") ? seqLen : 128,
                evalData, evalSplit, logEvery);
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /**
     * The run's options: the --config file's (or the defaults), with every option given on the command line
     * put over them. Every number is checked by the config records, named by its option.
     */
    TrainOptions options() {
        ObjectNode json = config == null ? JsonNodeFactory.instance.objectNode() : configFile(config);
        if (model != null) json.put("model", model.toString());
        if (out != null) json.put("out", out.toString());
        if (data != null) {
            JsonNode d = json.get("data");
            (d instanceof ObjectNode on ? on : json.putObject("data")).put("train", data.toString());
        }
        if (!json.hasNonNull("model") || !json.hasNonNull("out") || !json.path("data").hasNonNull("train"))
            throw new Lora4jException("train needs --model, --data and --out (or a --config file naming them, or --resume DIR)");
        TrainOptions base = OptionsJson.read(json, config == null ? "the command line" : config.toString());

        if (given("--target") && given("--target-regex")) throw new Lora4jException("give --target or --target-regex, not both");
        LoraConfig.Builder lora = base.lora().toBuilder();
        if (given("--r")) lora.r(r);
        if (given("--alpha")) lora.alpha(alpha);
        if (given("--dropout")) lora.dropout(dropout);
        if (given("--target")) lora.targets(LoraConfig.parseTargets(target));
        if (given("--target-regex")) lora.targets(new LoraConfig.TargetRegex(targetRegex));
        if (given("--layers")) lora.layers(new ArrayList<>(layers));
        if (given("--rank-pattern")) lora.rankPattern(rankPattern);
        if (given("--alpha-pattern")) lora.alphaPattern(alphaPattern);
        if (given("--init")) lora.init(init);
        if (given("--rslora")) lora.rslora(rslora);
        if (given("--dora")) lora.dora(dora);
        if (given("--lora-bias")) lora.loraBias(loraBias);
        if (given("--modules-to-save") || given("--trainable-token-indices"))
            lora.embeddings(new LoraConfig.Embeddings(given("--modules-to-save") ? modulesToSave : base.lora().embeddings().modulesToSave(),
                    given("--trainable-token-indices") ? Map.of("embed_tokens", trainableTokenIndices) : base.lora().embeddings().tokenIndices()));

        OptimizerConfig.Builder opt = base.train().optimizer().toBuilder();
        if (given("--optimizer")) opt.kind(enumOf(OptimizerConfig.Kind.class, "--optimizer", optimizer));
        if (given("--momentum")) opt.momentum(momentum);
        if (given("--lr")) opt.lr(lr);
        else if ((given("--prompt-tuning") || given("--prefix-tuning")) && config == null) opt.lr(PROMPT_TUNING_LR);
        if (given("--weight-decay")) opt.weightDecay(weightDecay);
        if (given("--betas")) {
            double[] b = parseBetas(betas);
            opt.betas(b[0], b[1]);
        }
        if (given("--eps")) opt.eps(eps);
        if (given("--loraplus-lr-ratio")) opt.loraplusLrRatio(loraplusLrRatio);
        ScheduleConfig sched = base.train().schedule();
        if (given("--schedule") || given("--warmup-steps"))
            sched = new ScheduleConfig(given("--schedule") ? enumOf(Schedule.class, "--schedule", schedule) : sched.shape(),
                    given("--warmup-steps") ? warmupSteps : sched.warmupSteps());

        TrainConfig.Builder train = base.train().toBuilder().optimizer(opt.build()).schedule(sched);
        if (given("--steps")) train.steps(steps);
        if (given("--epochs")) train.epochs(epochs);
        if (given("--batch-size")) train.batchSize(batchSize);
        if (given("--grad-accum")) train.gradAccum(gradAccum);
        if (given("--seq-len")) train.seqLen(seqLen);
        if (given("--max-grad-norm")) train.maxGradNorm(maxGradNorm);
        if (given("--seed")) train.seed(seed);
        if (given("--no-shuffle")) train.shuffle(!noShuffle);
        if (given("--eval-every")) train.evalEvery(evalEvery);
        if (given("--save-every")) train.saveEvery(saveEvery);
        if (given("--log-every")) train.logEvery(logEvery);
        if (given("--gradient-checkpointing")) train.gradientCheckpointing(gradientCheckpointing);

        DataConfig d = base.data();
        d = d.toBuilder().eval(given("--eval-data") ? evalData : d.eval()).evalSplit(given("--eval-split") ? evalSplit : d.evalSplit())
                .pack(given("--pack") ? pack : d.pack()).skipBadLines(given("--skip-bad-lines") ? skipBadLines : d.skipBadLines())
                .chatTemplate(given("--chat-template") ? chatTemplate : d.chatTemplate()).appendEos(given("--no-eos") ? !noEos : d.appendEos())
                .truncation(given("--truncation") ? TokenDataset.Truncation.parse(truncation) : d.truncation()).build();
        return base.toBuilder().data(d).lora(lora.build()).train(train.build())
                .bottleneck(given("--bottleneck-size") ? bottleneckConfig() : base.bottleneck())
                .ia3(given("--ia3") ? ia3Config() : given("--feedforward") ? failFeedforward() : base.ia3())
                .promptTuning(given("--prompt-tuning") ? promptTuningConfig() : promptOptionsAlone(base.promptTuning()))
                .prefixTuning(given("--prefix-tuning") ? prefixTuningConfig() : base.prefixTuning())
                .full(given("--full") ? full : base.full()).quantize(given("--quantize") ? quantize.type() : base.quantize()).initAdapter(given("--init-adapter") ? initAdapter : base.initAdapter()).build();
    }

    private dev.lora4j.ia3.Ia3Config ia3Config() {
        if (given("--target-regex")) throw new Lora4jException("--ia3 takes --target (a list), not --target-regex");
        List<String> ff = feedforward == null ? List.of() : Arrays.stream(feedforward.split(",")).map(String::strip).filter(x -> !x.isEmpty()).toList();
        if (feedforward != null && ff.isEmpty()) throw new Lora4jException("--feedforward names no module: '" + feedforward + "'");
        if (!given("--target") && !ff.isEmpty()) throw new Lora4jException("--feedforward needs --target naming the modules it is among");
        return new dev.lora4j.ia3.Ia3Config(given("--target") ? LoraConfig.parseTargets(target) : null, ff);
    }

    private dev.lora4j.bottleneck.BottleneckConfig bottleneckConfig() {
        if (given("--target-regex")) throw new Lora4jException("--bottleneck-size takes --target (a list), not --target-regex");
        if (given("--ia3")) throw new Lora4jException("give --ia3 or --bottleneck-size, not both");
        return new dev.lora4j.bottleneck.BottleneckConfig(bottleneckSize, given("--target") ? LoraConfig.parseTargets(target) : null);
    }

    /** Soft prompts and prefixes learn far slower than LoRA at LoRA's rate; PEFT's examples train them at 3e-2. */
    static final double PROMPT_TUNING_LR = 3e-2;

    private dev.lora4j.prompt.PromptTuningConfig promptTuningConfig() {
        if (given("--ia3") || given("--bottleneck-size")) throw new Lora4jException("give one of --prompt-tuning, --ia3 and --bottleneck-size");
        if (given("--target") || given("--target-regex")) throw new Lora4jException("--prompt-tuning adapts no module: drop --target / --target-regex");
        var init = promptInit == null ? null : dev.lora4j.prompt.PromptTuningConfig.Init.parse(promptInit);
        return new dev.lora4j.prompt.PromptTuningConfig(promptTuning, init, promptInitText);
    }

    private dev.lora4j.prompt.PrefixTuningConfig prefixTuningConfig() {
        if (given("--ia3") || given("--bottleneck-size") || given("--prompt-tuning"))
            throw new Lora4jException("give one of --prefix-tuning, --prompt-tuning, --ia3 and --bottleneck-size");
        if (given("--target") || given("--target-regex")) throw new Lora4jException("--prefix-tuning adapts no module: drop --target / --target-regex");
        return new dev.lora4j.prompt.PrefixTuningConfig(prefixTuning);
    }

    private dev.lora4j.prompt.PromptTuningConfig promptOptionsAlone(dev.lora4j.prompt.PromptTuningConfig fromConfig) {
        if (given("--prompt-init") || given("--prompt-init-text")) throw new Lora4jException("--prompt-init and --prompt-init-text go with --prompt-tuning N");
        return fromConfig;
    }

    private static dev.lora4j.ia3.Ia3Config failFeedforward() {
        throw new Lora4jException("--feedforward is an IA³ option: give --ia3 too");
    }

    /** A --config file: the options object of a trainer_state.json, or that whole file. */
    private static ObjectNode configFile(Path file) {
        JsonNode j = dev.lora4j.io.ModelFiles.readJson(file);
        if (j.has("options") && j.has("global_step")) j = j.get("options");
        if (!(j instanceof ObjectNode o)) throw new Lora4jException(file + ": a training configuration must be a JSON object");
        return o.deepCopy();
    }

    private static double[] parseBetas(String s) {
        String[] p = s.split(",");
        try {
            if (p.length == 2) return new double[] {Double.parseDouble(p[0].strip()), Double.parseDouble(p[1].strip())};
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new Lora4jException("--betas must be two numbers like 0.9,0.999, got '" + s + "'");
    }

    private static <E extends Enum<E>> E enumOf(Class<E> type, String option, String value) {
        for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(value)) return e;
        throw new Lora4jException(option + " must be one of " + Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase()).toList() + ", got '" + value + "'");
    }
}
