package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.quant.QuantType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The one JSON form of a training run's configuration: what every checkpoint's trainer_state.json
 * holds under "options", and what {@code lora4j train --config FILE} reads. Sections mirror the
 * records ("data", "lora", "train" with "optimizer" and "schedule"); LoRA's fields carry PEFT's names.
 * Reading is strict: an unknown field or a value of the wrong type is an error naming the field;
 * a missing field takes the builder's default.
 */
public final class OptionsJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OptionsJson() {}

    public static ObjectNode write(TrainOptions o) {
        ObjectNode j = JSON.createObjectNode();
        j.put("model", o.model().toString());
        j.put("out", o.out().toString());
        j.put("full", o.full());
        j.put("init_adapter", o.initAdapter() == null ? null : o.initAdapter().toString());
        j.put("quantize", o.quantize() == null ? null : o.quantize().label);
        DataConfig d = o.data();
        ObjectNode data = j.putObject("data");
        data.put("train", d.train().toString());
        data.put("eval", d.eval() == null ? null : d.eval().toString());
        data.put("eval_split", d.evalSplit());
        data.put("pack", d.pack());
        data.put("skip_bad_lines", d.skipBadLines());
        data.put("chat_template", d.chatTemplate() == null ? null : d.chatTemplate().toString());
        data.put("append_eos", d.appendEos());
        data.put("truncation", d.truncation().name().toLowerCase(java.util.Locale.ROOT));
        j.set("lora", writeLora(o.lora()));
        if (o.ia3() == null) j.putNull("ia3");
        else {
            ObjectNode ia3 = j.putObject("ia3");
            switch (o.ia3().targets()) {
                case null -> ia3.putNull("target_modules");
                case LoraConfig.TargetList t -> t.names().forEach(ia3.putArray("target_modules")::add);
                case LoraConfig.TargetRegex r -> ia3.put("target_modules", r.regex());
                case LoraConfig.AllLinear a -> ia3.put("target_modules", "all-linear");
            }
            o.ia3().feedforward().forEach(ia3.putArray("feedforward_modules")::add);
        }
        if (o.bottleneck() == null) j.putNull("bottleneck");
        else {
            ObjectNode b = j.putObject("bottleneck").put("bottleneck_size", o.bottleneck().size());
            if (o.bottleneck().targets() instanceof LoraConfig.TargetList t) t.names().forEach(b.putArray("target_modules")::add);
            else b.putNull("target_modules");
        }
        if (o.promptTuning() == null) j.putNull("prompt_tuning");
        else j.putObject("prompt_tuning").put("num_virtual_tokens", o.promptTuning().virtualTokens())
                .put("prompt_tuning_init", o.promptTuning().init().name()).put("prompt_tuning_init_text", o.promptTuning().initText());
        if (o.prefixTuning() == null) j.putNull("prefix_tuning");
        else j.putObject("prefix_tuning").put("num_virtual_tokens", o.prefixTuning().virtualTokens());
        j.set("train", writeTrain(o.train()));
        return j;
    }

    static ObjectNode writeLora(LoraConfig c) {
        ObjectNode l = JSON.createObjectNode();
        l.put("r", c.r());
        l.put("lora_alpha", c.alpha());
        l.put("lora_dropout", c.dropout());
        switch (c.targets()) {
            case null -> l.putNull("target_modules");
            case LoraConfig.TargetList t -> t.names().forEach(l.putArray("target_modules")::add);
            case LoraConfig.TargetRegex r -> l.put("target_modules", r.regex()).put("target_modules_is_regex", true);
            case LoraConfig.AllLinear a -> l.put("target_modules", "all-linear");
        }
        if (c.layersToTransform() == null) l.putNull("layers_to_transform");
        else c.layersToTransform().forEach(l.putArray("layers_to_transform")::add);
        c.rankPattern().forEach(l.putObject("rank_pattern")::put);
        if (c.rankPattern().isEmpty()) l.putObject("rank_pattern");
        c.alphaPattern().forEach(l.putObject("alpha_pattern")::put);
        if (c.alphaPattern().isEmpty()) l.putObject("alpha_pattern");
        l.put("init", c.initName());
        l.put("use_rslora", c.rslora());
        l.put("use_dora", c.dora());
        l.put("lora_bias", c.loraBias());
        c.embeddings().modulesToSave().forEach(l.putArray("modules_to_save")::add);
        ObjectNode ids = l.putObject("trainable_token_indices");
        c.embeddings().tokenIndices().forEach((k, v) -> v.forEach(ids.putArray(k)::add));
        return l;
    }

    static ObjectNode writeTrain(TrainConfig t) {
        ObjectNode j = JSON.createObjectNode();
        j.put("steps", t.steps());
        j.put("epochs", t.epochs());
        j.put("batch_size", t.batchSize());
        j.put("grad_accum", t.gradAccum());
        j.put("seq_len", t.seqLen());
        j.put("max_grad_norm", t.maxGradNorm());
        j.put("seed", t.seed());
        j.put("shuffle", t.shuffle());
        j.put("eval_every", t.evalEvery());
        j.put("save_every", t.saveEvery());
        j.put("log_every", t.logEvery());
        j.put("gradient_checkpointing", t.gradientCheckpointing());
        OptimizerConfig o = t.optimizer();
        ObjectNode opt = j.putObject("optimizer");
        opt.put("kind", o.kind().name().toLowerCase(Locale.ROOT));
        opt.put("lr", o.lr());
        opt.put("weight_decay", o.weightDecay());
        opt.putArray("betas").add(o.beta1()).add(o.beta2());
        opt.put("eps", o.eps());
        opt.put("momentum", o.momentum());
        opt.put("loraplus_lr_ratio", o.loraplusLrRatio());
        ObjectNode s = j.putObject("schedule");
        s.put("shape", t.schedule().shape().name().toLowerCase(Locale.ROOT));
        s.put("warmup_steps", t.schedule().warmupSteps());
        return j;
    }

    /** Options from their JSON form; where names an error's place (a file, "trainer_state.json"). */
    public static TrainOptions read(JsonNode j, String where) {
        try {
            return readOptions(j, where);
        } catch (Lora4jException e) {
            // the records' domain checks name the option; the place is added here
            if (e.getMessage().startsWith(where + ": ")) throw e;
            throw new Lora4jException(where + ": " + e.getMessage());
        }
    }

    private static TrainOptions readOptions(JsonNode j, String where) {
        Fields f = new Fields(j, where, "", Set.of("model", "out", "full", "init_adapter", "quantize", "data", "lora", "ia3", "bottleneck", "prompt_tuning", "prefix_tuning", "train"));
        Fields d = f.object("data", Set.of("train", "eval", "eval_split", "pack", "skip_bad_lines", "chat_template", "append_eos", "truncation"));
        DataConfig data = DataConfig.builder(d.path("train", null)).eval(d.path("eval", null)).evalSplit(d.number("eval_split", 0))
                .pack(d.bool("pack", false)).skipBadLines(d.bool("skip_bad_lines", false)).chatTemplate(d.path("chat_template", null))
                .appendEos(d.bool("append_eos", true)).truncation(dev.lora4j.data.TokenDataset.Truncation.parse(d.text("truncation", "right"))).build();
        return new TrainOptions(f.path("model", null), f.path("out", null), data, readLora(f.object("lora", LORA_FIELDS)),
                f.bool("full", false), f.path("init_adapter", null), readTrain(f.object("train", TRAIN_FIELDS)), quantize(f.text("quantize", null), where),
                readIa3(j.get("ia3"), where), readBottleneck(j.get("bottleneck"), where), readPromptTuning(j.get("prompt_tuning"), where),
                readPrefixTuning(j.get("prefix_tuning"), where));
    }

    /** "prefix_tuning": null, or {"num_virtual_tokens": N}. */
    private static dev.lora4j.prompt.PrefixTuningConfig readPrefixTuning(JsonNode n, String where) {
        if (n == null || n.isNull()) return null;
        return new dev.lora4j.prompt.PrefixTuningConfig(new Fields(n, where, "prefix_tuning.", Set.of("num_virtual_tokens")).integer("num_virtual_tokens", 0));
    }

    /** "prompt_tuning": null, or {"num_virtual_tokens": N, "prompt_tuning_init": "RANDOM" | "SAMPLE_VOCAB" | "TEXT", "prompt_tuning_init_text": TEXT or null}. */
    private static dev.lora4j.prompt.PromptTuningConfig readPromptTuning(JsonNode n, String where) {
        if (n == null || n.isNull()) return null;
        Fields f = new Fields(n, where, "prompt_tuning.", Set.of("num_virtual_tokens", "prompt_tuning_init", "prompt_tuning_init_text"));
        String init = f.text("prompt_tuning_init", null);
        return new dev.lora4j.prompt.PromptTuningConfig(f.integer("num_virtual_tokens", 0),
                init == null ? null : dev.lora4j.prompt.PromptTuningConfig.Init.parse(init), f.text("prompt_tuning_init_text", null));
    }

    /** "bottleneck": null, or {"bottleneck_size": M, "target_modules": LIST or null (the model type's defaults)}. */
    private static dev.lora4j.bottleneck.BottleneckConfig readBottleneck(JsonNode n, String where) {
        if (n == null || n.isNull()) return null;
        Fields f = new Fields(n, where, "bottleneck.", Set.of("bottleneck_size", "target_modules"));
        JsonNode t = n.get("target_modules");
        LoraConfig.Targets targets = null;
        if (t != null && t.isArray()) {
            java.util.List<String> names = new java.util.ArrayList<>();
            t.forEach(x -> names.add(x.asText()));
            targets = new LoraConfig.TargetList(names);
        } else if (t != null && !t.isNull()) throw new Lora4jException(where + ": \"bottleneck.target_modules\" must be a list or null");
        return new dev.lora4j.bottleneck.BottleneckConfig((int) f.number("bottleneck_size", 0), targets);
    }

    /** "ia3": null (LoRA), or {"target_modules": LIST or STRING or null (the model type's defaults), "feedforward_modules": LIST}. */
    private static dev.lora4j.ia3.Ia3Config readIa3(JsonNode n, String where) {
        if (n == null || n.isNull()) return null;
        Fields f = new Fields(n, where, "ia3.", Set.of("target_modules", "feedforward_modules"));
        JsonNode t = f.get("target_modules");
        LoraConfig.Targets targets = null;
        if (t != null && t.isTextual()) targets = LoraConfig.parseTargets(t.asText());
        else if (t != null && t.isArray()) {
            java.util.List<String> names = new java.util.ArrayList<>();
            t.forEach(x -> names.add(x.asText()));
            targets = new LoraConfig.TargetList(names);
        } else if (t != null) throw f.error("target_modules", "a list, a string or null");
        java.util.List<String> ff = new java.util.ArrayList<>();
        n.path("feedforward_modules").forEach(x -> ff.add(x.asText()));
        return new dev.lora4j.ia3.Ia3Config(targets, ff);
    }

    private static QuantType quantize(String name, String where) {
        if (name == null) return null;
        QuantType t = QuantType.ofOption(name);
        if (t == null) throw new Lora4jException(where + ": \"quantize\" must be \"int8\" or \"nf4\", not \"" + name + "\"");
        return t;
    }

    private static final Set<String> LORA_FIELDS = Set.of("r", "lora_alpha", "lora_dropout", "target_modules", "target_modules_is_regex",
            "layers_to_transform", "rank_pattern", "alpha_pattern", "init", "use_rslora", "use_dora", "lora_bias", "modules_to_save", "trainable_token_indices");
    private static final Set<String> TRAIN_FIELDS = Set.of("steps", "epochs", "batch_size", "grad_accum", "seq_len", "max_grad_norm", "seed",
            "shuffle", "eval_every", "save_every", "log_every", "gradient_checkpointing", "optimizer", "schedule");

    private static LoraConfig readLora(Fields l) {
        LoraConfig.Builder b = LoraConfig.builder();
        int r = l.integer("r", 8);
        b.r(r).alpha(l.number("lora_alpha", r)).dropout(l.number("lora_dropout", 0));
        JsonNode t = l.get("target_modules");
        if (t != null && !t.isNull()) {
            if (l.bool("target_modules_is_regex", false)) b.targets(new LoraConfig.TargetRegex(l.text("target_modules", null)));
            else if (t.isTextual()) b.targets(t.asText());
            else b.targets(new LoraConfig.TargetList(l.strings("target_modules")));
        }
        b.layers(l.integers("layers_to_transform"));
        Map<String, Integer> rp = new LinkedHashMap<>();
        l.numbers("rank_pattern").forEach((k, v) -> rp.put(k, l.toInt("rank_pattern." + k, v)));
        Map<String, Double> ap = new LinkedHashMap<>(l.numbers("alpha_pattern"));
        try {
            b.init(l.text("init", "kaiming"));
        } catch (Lora4jException e) {
            throw new Lora4jException(l.where + ": field '" + l.prefix + "init': " + e.getMessage());
        }
        List<String> save = l.strings("modules_to_save");
        Map<String, List<Integer>> ids = new LinkedHashMap<>();
        JsonNode tokens = l.get("trainable_token_indices");
        if (tokens != null && !tokens.isObject()) throw l.error("trainable_token_indices", "an object of module: [token ids]");
        if (tokens != null)
            for (var e : tokens.properties()) {
                List<Integer> list = new ArrayList<>();
                if (!e.getValue().isArray()) throw l.error("trainable_token_indices", "an object of module: [token ids]");
                for (JsonNode n : e.getValue()) {
                    if (!n.isIntegralNumber() || !n.canConvertToInt()) throw l.error("trainable_token_indices", "an object of module: [token ids]");
                    list.add(n.asInt());
                }
                ids.put(e.getKey(), list);
            }
        return b.rankPattern(rp).alphaPattern(ap)
                .rslora(l.bool("use_rslora", false)).dora(l.bool("use_dora", false)).loraBias(l.bool("lora_bias", false))
                .embeddings(new LoraConfig.Embeddings(save == null ? List.of() : save, ids)).build();
    }

    private static TrainConfig readTrain(Fields t) {
        TrainConfig.Builder b = TrainConfig.builder();
        Fields o = t.object("optimizer", Set.of("kind", "lr", "weight_decay", "betas", "eps", "momentum", "loraplus_lr_ratio"));
        OptimizerConfig.Builder ob = OptimizerConfig.builder().kind(o.choice("kind", OptimizerConfig.Kind.class, OptimizerConfig.Kind.ADAMW))
                .lr(o.number("lr", 2e-4)).weightDecay(o.number("weight_decay", 0)).eps(o.number("eps", 1e-8)).momentum(o.number("momentum", 0))
                .loraplusLrRatio(o.number("loraplus_lr_ratio", 1));
        List<Double> betas = o.doubles("betas");
        if (betas != null) {
            if (betas.size() != 2) throw o.error("betas", "two numbers like [0.9, 0.999]");
            ob.betas(betas.get(0), betas.get(1));
        }
        Fields s = t.object("schedule", Set.of("shape", "warmup_steps"));
        return b.optimizer(ob.build()).schedule(new ScheduleConfig(s.choice("shape", Schedule.class, Schedule.LINEAR), s.longValue("warmup_steps", 0)))
                .steps(t.longValue("steps", 0)).epochs(t.integer("epochs", 1)).batchSize(t.integer("batch_size", 8))
                .gradAccum(t.integer("grad_accum", 1)).seqLen(t.integer("seq_len", 512)).maxGradNorm(t.number("max_grad_norm", 1.0))
                .seed(t.longValue("seed", 42)).shuffle(t.bool("shuffle", true)).evalEvery(t.longValue("eval_every", 0))
                .saveEvery(t.longValue("save_every", 0)).logEvery(t.longValue("log_every", 0))
                .gradientCheckpointing(t.bool("gradient_checkpointing", false)).build();
    }

    /** One JSON object read strictly: each accessor checks the type, unknown fields are refused up front. */
    private record Fields(JsonNode node, String where, String prefix) {
        Fields(JsonNode node, String where, String prefix, Set<String> known) {
            this(node == null || node.isNull() ? JSON.createObjectNode() : node, where, prefix);
            if (!this.node.isObject()) throw new Lora4jException(where + ": " + (prefix.isEmpty() ? "the options" : prefix.substring(0, prefix.length() - 1))
                    + " must be a JSON object");
            for (var it = this.node.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!known.contains(name))
                    throw new Lora4jException(where + ": unknown field '" + prefix + name + "' (known: " + String.join(", ", new java.util.TreeSet<>(known)) + ")");
            }
        }

        JsonNode get(String name) {
            JsonNode v = node.get(name);
            return v == null || v.isNull() ? null : v;
        }

        Lora4jException error(String name, String expected) {
            return new Lora4jException(where + ": field '" + prefix + name + "' must be " + expected + ", got " + node.get(name));
        }

        Fields object(String name, Set<String> known) {
            return new Fields(get(name), where, prefix + name + ".", known);
        }

        double number(String name, double dflt) {
            JsonNode v = get(name);
            if (v == null) return dflt;
            if (!v.isNumber()) throw error(name, "a number");
            return v.asDouble();
        }

        long longValue(String name, long dflt) {
            JsonNode v = get(name);
            if (v == null) return dflt;
            if (!v.isIntegralNumber() || !v.canConvertToLong()) throw error(name, "a whole number");
            return v.asLong();
        }

        int integer(String name, int dflt) {
            return toInt(name, longValue(name, dflt));
        }

        int toInt(String name, double v) {
            if (v != Math.rint(v) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
                throw new Lora4jException(where + ": field '" + prefix + name + "' must be a whole number within 32 bits, got " + v);
            return (int) v;
        }

        boolean bool(String name, boolean dflt) {
            JsonNode v = get(name);
            if (v == null) return dflt;
            if (!v.isBoolean()) throw error(name, "true or false");
            return v.asBoolean();
        }

        String text(String name, String dflt) {
            JsonNode v = get(name);
            if (v == null) return dflt;
            if (!v.isTextual()) throw error(name, "a string");
            return v.asText();
        }

        Path path(String name, Path dflt) {
            String s = text(name, null);
            if (s == null) return dflt;
            try {
                return Path.of(s);
            } catch (java.nio.file.InvalidPathException e) {
                throw error(name, "a path");
            }
        }

        <E extends Enum<E>> E choice(String name, Class<E> type, E dflt) {
            String s = text(name, null);
            if (s == null) return dflt;
            for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(s)) return e;
            throw error(name, "one of " + java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList());
        }

        private ArrayNode array(String name) {
            JsonNode v = get(name);
            if (v == null) return null;
            if (!v.isArray()) throw error(name, "an array");
            return (ArrayNode) v;
        }

        List<String> strings(String name) {
            ArrayNode a = array(name);
            if (a == null) return null;
            List<String> out = new ArrayList<>();
            for (JsonNode n : a) {
                if (!n.isTextual()) throw error(name, "an array of strings");
                out.add(n.asText());
            }
            return out;
        }

        List<Double> doubles(String name) {
            ArrayNode a = array(name);
            if (a == null) return null;
            List<Double> out = new ArrayList<>();
            for (JsonNode n : a) {
                if (!n.isNumber()) throw error(name, "an array of numbers");
                out.add(n.asDouble());
            }
            return out;
        }

        List<Integer> integers(String name) {
            List<Double> d = doubles(name);
            if (d == null) return null;
            List<Integer> out = new ArrayList<>();
            for (double v : d) out.add(toInt(name, v));
            return out;
        }

        Map<String, Double> numbers(String name) {
            JsonNode v = get(name);
            Map<String, Double> out = new LinkedHashMap<>();
            if (v == null) return out;
            if (!v.isObject()) throw error(name, "an object of name: number");
            for (var e : v.properties()) {
                if (!e.getValue().isNumber()) throw error(name, "an object of name: number");
                out.put(e.getKey(), e.getValue().asDouble());
            }
            return out;
        }
    }
}
