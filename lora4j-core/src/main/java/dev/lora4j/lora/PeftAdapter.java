package dev.lora4j.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * PEFT's adapter directory, read and written: {@code adapter_config.json} (a LoraConfig) and
 * {@code adapter_model.safetensors} with keys {@code base_model.model.<module>.lora_A.weight} (r, in)
 * and {@code .lora_B.weight} (out, r), the module path being the CausalLM model's, and for DoRA
 * {@code .lora_magnitude_vector.weight} (out) (PEFT 0.12 on; earlier PEFT wrote it without ".weight").
 * Files written here load in PEFT, and PEFT's load here.
 */
public final class PeftAdapter {
    public static final String CONFIG = "adapter_config.json", WEIGHTS = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeftAdapter() {}

    // ------------------------------------------------------------------ writing

    /**
     * Writes the adapter. A PiSSA / OLoRA one is written as PEFT writes it with path_initial_model_for_weight_conversion:
     * a plain LoRA of rank 2r against the original base, A' = [A; A0], B' = [B, −B0] (s·B'·A' = s·B·A − s·B0·A0, what
     * training changed), lora_alpha doubled (×√2 with rsLoRA) so the scale stays, init_lora_weights true.
     */
    public static void save(Path dir, LoraModel m, String baseModel) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, float[][]> init = m.initialFactors();
        for (LoraLinear l : m.modules().values()) {
            float[][] ab = init.isEmpty() ? new float[][] {l.a(), l.b()} : converted(l, init.get(l.name()));
            int r = ab[0].length / l.in();
            tensors.put(PREFIX + l.name() + ".lora_A.weight", Tensor.of(l.name() + ".lora_A", ab[0], r, l.in()));
            tensors.put(PREFIX + l.name() + ".lora_B.weight", Tensor.of(l.name() + ".lora_B", ab[1], l.out(), r));
            if (l.dora()) tensors.put(PREFIX + l.name() + ".lora_magnitude_vector.weight", Tensor.of(l.name() + ".lora_magnitude_vector", l.magnitude(), l.out()));
            if (l.biasB() != null) tensors.put(PREFIX + l.name() + ".lora_B.bias", Tensor.of(l.name() + ".lora_B.bias", l.biasB(), l.out()));
        }
        if (m.embeddings() != null) tensors.putAll(m.embeddings().tensors(m.base(), PREFIX));
        LoraConfig c = init.isEmpty() ? m.config() : convertedConfig(m.config());
        SafeTensorsWriter.write(dir.resolve(WEIGHTS), tensors, DType.F32, Map.of("format", "pt"));
        AtomicFiles.writeString(dir.resolve(CONFIG), JSON.writeValueAsString(configJson(c, m.base(), baseModel)) + "\n");
        AtomicFiles.writeString(dir.resolve("README.md"), modelCard(m, baseModel));
    }

    /** {A' = [A; A0] (2r, in), B' = [B, −B0] (out, 2r)}. */
    private static float[][] converted(LoraLinear l, float[][] init) {
        int r = l.rank(), in = l.in(), out = l.out();
        float[] a = new float[2 * r * in], b = new float[out * 2 * r];
        System.arraycopy(l.a(), 0, a, 0, r * in);
        System.arraycopy(init[0], 0, a, r * in, r * in);
        for (int o = 0; o < out; o++)
            for (int k = 0; k < r; k++) {
                b[o * 2 * r + k] = l.b()[o * r + k];
                b[o * 2 * r + r + k] = -init[1][o * r + k];
            }
        return new float[][] {a, b};
    }

    /** The configuration of a converted PiSSA / OLoRA adapter: ranks doubled, alphas to keep each scale, plain init. */
    static LoraConfig convertedConfig(LoraConfig c) {
        double f = c.rslora() ? Math.sqrt(2) : 2;
        Map<String, Integer> rp = new LinkedHashMap<>();
        c.rankPattern().forEach((k, v) -> rp.put(k, 2 * v));
        Map<String, Double> ap = new LinkedHashMap<>();
        c.alphaPattern().forEach((k, v) -> ap.put(k, f * v));
        return c.toBuilder().r(2 * c.r()).alpha(f * c.alpha()).rankPattern(rp).alphaPattern(ap).init(LoraConfig.Init.KAIMING).pissaNiter(0).build();
    }

    /** A model card as PEFT writes one beside an adapter: what it adapts, its size, and how to load it. */
    static String modelCard(LoraModel m, String baseModel) {
        LoraConfig c = m.config();
        String targets = String.join(", ", new java.util.TreeSet<>(m.modules().keySet().stream().map(n -> n.substring(n.lastIndexOf('.') + 1)).toList()));
        return String.format(java.util.Locale.ROOT, """
                ---
                base_model: %s
                library_name: peft
                tags:
                - lora
                - lora4j
                ---
                # LoRA adapter

                A LoRA adapter in PEFT's format, trained with lora4j.

                - base model: `%s`
                - rank r = %d, lora_alpha = %s%s%s, dropout %s
                - adapted modules: %s (%d modules)
                - %s

                Use it with lora4j (`lora4j generate --model BASE --adapter THIS_DIR`, `lora4j merge`), or with PEFT:
                `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), THIS_DIR)`.
                """, baseModel, baseModel, c.r(), c.alpha() == Math.rint(c.alpha()) ? Long.toString((long) c.alpha()) : Double.toString(c.alpha()),
                c.rslora() ? " (rsLoRA: scale alpha/√r)" : "", c.dora() ? ", DoRA (use_dora)" : "", c.dropout(), targets, m.modules().size(), m.trainableLine());
    }

    static ObjectNode configJson(LoraConfig c, Transformer base, String baseModel) {
        return configJson(c, base.config().modelType().equals("gpt2"), baseModel);
    }

    /** adapter_config.json as PEFT writes it for a causal LM (task_type and modules_to_save are the caller's to change). */
    public static ObjectNode configJson(LoraConfig c, boolean fanInFanOut, String baseModel) {
        ObjectNode o = JSON.createObjectNode();
        o.put("peft_type", "LORA");
        o.put("task_type", "CAUSAL_LM");
        o.put("base_model_name_or_path", baseModel);
        o.put("r", c.r());
        if (c.alpha() == Math.rint(c.alpha())) o.put("lora_alpha", (int) c.alpha());
        else o.put("lora_alpha", c.alpha());
        o.put("lora_dropout", c.dropout());
        switch (c.targets()) {
            case LoraConfig.TargetList l -> {
                ArrayNode a = o.putArray("target_modules");
                new TreeSet<>(l.names()).forEach(a::add);
            }
            case LoraConfig.TargetRegex r -> o.put("target_modules", r.regex());
            case LoraConfig.AllLinear a -> o.put("target_modules", "all-linear");
        }
        o.put("bias", "none");
        o.put("lora_bias", c.loraBias());
        o.put("fan_in_fan_out", fanInFanOut);
        o.put("use_rslora", c.rslora());
        o.put("use_dora", c.dora());
        if (c.init() == LoraConfig.Init.KAIMING) o.put("init_lora_weights", true);
        else o.put("init_lora_weights", c.initName());
        ObjectNode rp = o.putObject("rank_pattern");
        c.rankPattern().forEach(rp::put);
        ObjectNode ap = o.putObject("alpha_pattern");
        c.alphaPattern().forEach(ap::put);
        if (c.layersToTransform() == null) o.putNull("layers_to_transform");
        else {
            ArrayNode a = o.putArray("layers_to_transform");
            c.layersToTransform().forEach(a::add);
        }
        o.putNull("layers_pattern");
        LoraConfig.Embeddings e = c.embeddings();
        if (e.modulesToSave().isEmpty()) o.putNull("modules_to_save");
        else e.modulesToSave().forEach(o.putArray("modules_to_save")::add);
        if (e.tokenIndices().isEmpty()) o.putNull("trainable_token_indices");
        else {
            ObjectNode t = o.putObject("trainable_token_indices");
            e.tokenIndices().forEach((k, ids) -> ids.forEach(t.putArray(k)::add));
        }
        o.put("inference_mode", true);
        o.putNull("revision");
        return o;
    }

    // ------------------------------------------------------------------ reading

    /** Reads adapter_config.json into a LoraConfig, refusing what lora4j does not support. */
    public static LoraConfig readConfig(Path dir) {
        return readConfig(dir, java.util.Set.of());
    }

    /** As {@link #readConfig(Path)}, accepting modules_to_save that name only modules in savable (a task head the caller loads). */
    public static LoraConfig readConfig(Path dir, java.util.Set<String> savable) {
        Path file = dir.resolve(CONFIG);
        if (!Files.isDirectory(dir)) throw new Lora4jException(dir + ": not a directory (expected a PEFT adapter directory)");
        JsonNode c = ModelFiles.readJson(file);
        String type = c.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) throw new Lora4jException(file + ": peft_type '" + type + "' is not supported (expected LORA)");
        String bias = c.path("bias").asText("none");
        if (!bias.equals("none")) throw new Lora4jException(file + ": bias '" + bias + "' is not supported (expected none)");
        List<String> saved = new ArrayList<>();
        for (JsonNode m : c.path("modules_to_save"))
            if (DECODER_MODULES.contains(m.asText()) && !savable.contains(m.asText())) saved.add(m.asText());
            else if (!savable.contains(m.asText()))
                throw new Lora4jException(file + ": modules_to_save '" + m.asText() + "' is not supported (expected " + new TreeSet<>(savable.isEmpty() ? DECODER_MODULES
                        : savable) + ")");
        Map<String, List<Integer>> tokenIndices = tokenIndices(file, c.get("trainable_token_indices"));
        JsonNode rNode = c.get("r"), alphaNode = c.get("lora_alpha");
        if (rNode == null || !rNode.isIntegralNumber() || !rNode.canConvertToInt() || rNode.asInt() < 1) throw new Lora4jException(file + ": field 'r' must be a positive integer, got " + rNode);
        if (alphaNode == null || !alphaNode.isNumber()) throw new Lora4jException(file + ": field 'lora_alpha' must be a number, got " + alphaNode);
        JsonNode tm = c.get("target_modules");
        LoraConfig.Targets targets;
        if (tm == null || tm.isNull()) throw new Lora4jException(file + ": missing field 'target_modules'");
        else if (tm.isTextual()) {
            try {
                targets = tm.asText().equals("all-linear") ? new LoraConfig.AllLinear() : new LoraConfig.TargetRegex(tm.asText());
            } catch (Lora4jException e) {
                throw new Lora4jException(file + ": target_modules: " + e.getMessage());
            }
        }
        else if (tm.isArray()) {
            List<String> names = new ArrayList<>();
            tm.forEach(n -> names.add(n.asText()));
            targets = new LoraConfig.TargetList(names);
        } else throw new Lora4jException(file + ": target_modules must be a list or a string, got " + tm);
        List<Integer> layers = null;
        JsonNode lt = c.get("layers_to_transform");
        if (lt != null && !lt.isNull()) {
            layers = new ArrayList<>();
            if (lt.isInt()) layers.add(lt.asInt());
            else for (JsonNode n : lt) layers.add(n.asInt());
        }
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        c.path("rank_pattern").properties().forEach(e -> rankPattern.put(e.getKey(), e.getValue().asInt()));
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        c.path("alpha_pattern").properties().forEach(e -> alphaPattern.put(e.getKey(), e.getValue().asDouble()));
        JsonNode init = c.path("init_lora_weights");
        double dropout = c.path("lora_dropout").asDouble(0.0);
        try {
            LoraConfig.Builder b = LoraConfig.builder().r(rNode.asInt()).alpha(alphaNode.asDouble()).dropout(dropout).targets(targets).layers(layers)
                    .rankPattern(rankPattern).alphaPattern(alphaPattern).rslora(c.path("use_rslora").asBoolean(false))
                    .dora(c.path("use_dora").asBoolean(false)).loraBias(c.path("lora_bias").asBoolean(false))
                    .embeddings(new LoraConfig.Embeddings(saved, tokenIndices));
            // true, false (B and A as saved anyway) and the kinds of the first steps: whatever started the run, the file holds where it ended
            if (init.isTextual() && !init.asText().equals("eva") && !init.asText().startsWith("loftq") && !init.asText().startsWith("corda")) b.init(init.asText());
            else if (init.isTextual()) throw new Lora4jException("init_lora_weights '" + init.asText() + "' is not supported (expected true, gaussian, pissa, pissa_niter_N or olora)");
            return b.build();
        } catch (Lora4jException | IllegalArgumentException e) {
            throw new Lora4jException(file + ": " + e.getMessage());
        }
    }

    /** The decoder modules modules_to_save may name: the input embedding (either family's name) and the LM head. */
    private static final java.util.Set<String> DECODER_MODULES = java.util.Set.of("embed_tokens", "model.embed_tokens", "wte", "transformer.wte", "lm_head");

    /** trainable_token_indices: null, a list (the input embedding's ids), or {module: [ids]}. */
    private static Map<String, List<Integer>> tokenIndices(Path file, JsonNode t) {
        Map<String, List<Integer>> out = new LinkedHashMap<>();
        if (t == null || t.isNull()) return out;
        if (t.isArray()) out.put("embed_tokens", ids(file, "trainable_token_indices", t));
        else if (t.isObject()) t.properties().forEach(e -> out.put(e.getKey(), ids(file, "trainable_token_indices." + e.getKey(), e.getValue())));
        else throw new Lora4jException(file + ": trainable_token_indices must be a list of token ids or an object {module: [ids]}, got " + t);
        return out;
    }

    private static List<Integer> ids(Path file, String field, JsonNode a) {
        if (!a.isArray()) throw new Lora4jException(file + ": " + field + " must be a list of token ids, got " + a);
        List<Integer> ids = new ArrayList<>();
        for (JsonNode n : a) {
            if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new Lora4jException(file + ": " + field + " holds " + n + ", not a token id");
            ids.add(n.asInt());
        }
        return ids;
    }

    /** Loads a PEFT adapter onto a base model, checking every tensor's name and shape against it. */
    public static LoraModel load(Path dir, Transformer base) {
        return load(dir, base, null);
    }

    /**
     * As {@link #load(Path, Transformer)}, with the adapter's lora_dropout replaced when dropout is not null. An adapter saved
     * by PEFT without conversion from a PiSSA or OLoRA start (init_lora_weights "pissa" or "olora") holds A and B over
     * the residual base, which is made again from the base as PEFT does on loading; one from a randomized SVD
     * ("pissa_niter_N") cannot be made again, and is refused.
     */
    public static LoraModel load(Path dir, Transformer base, Double dropout) {
        LoraConfig config = dropout == null ? readConfig(dir) : readConfig(dir).withDropout(dropout);
        if (config.init().residual()) {
            if (config.pissaNiter() > 0)
                throw new Lora4jException(dir.resolve(CONFIG) + ": init_lora_weights '" + config.initName() + "' was saved without conversion, over a"
                        + " residual from a randomized SVD that cannot be made again; save it from PEFT with path_initial_model_for_weight_conversion");
            LoraModel plain = loadWith(dir, base, config.toBuilder().init(LoraConfig.Init.KAIMING).build());
            Map<String, float[][]> saved = new LinkedHashMap<>();
            plain.modules().forEach((k, l) -> saved.put(k, new float[][] {l.a(), l.b()}));
            LoraModel fresh = LoraModel.inject(base, config, 0);
            LoraModel m = LoraModel.overResiduals(base, fresh.config(), toFactors(fresh.initialFactors()), lin -> saved.get(lin.name()));
            return plain.embeddings() == null ? m : m.withEmbeddings(plain.embeddings());
        }
        return loadWith(dir, base, config);
    }

    private static Map<String, ResidualInit.Factors> toFactors(Map<String, float[][]> init) {
        Map<String, ResidualInit.Factors> out = new LinkedHashMap<>();
        init.forEach((k, v) -> out.put(k, new ResidualInit.Factors(v[0], v[1])));
        return out;
    }

    private static LoraModel loadWith(Path dir, Transformer base, LoraConfig config) {
        Path file = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, float[][]> byModule = new LinkedHashMap<>();
            java.util.Set<String> embeddingKeys = new java.util.LinkedHashSet<>();
            for (String key : st.entries().keySet()) {
                if (key.startsWith(PREFIX) && TrainedEmbeddings.isKey(base, key.substring(PREFIX.length()))) {
                    embeddingKeys.add(key);
                    continue;
                }
                String module = moduleOf(key);
                if (module == null)
                    throw new Lora4jException(file + ": tensor '" + key + "' is not a LoRA weight (expected base_model.model.<module>.lora_A.weight or .lora_B.weight)");
                float[][] ab = byModule.computeIfAbsent(module, k -> new float[4][]);
                int which = key.endsWith(".bias") ? 3 : key.contains(".lora_A.") ? 0 : key.contains(".lora_B.") ? 1 : 2;
                if (which == 2 && !config.dora())
                    throw new Lora4jException(file + ": holds DoRA's magnitude '" + key + "' but adapter_config.json does not set use_dora");
                if (which == 3 && !config.loraBias())
                    throw new Lora4jException(file + ": holds lora_B's bias '" + key + "' but adapter_config.json does not set lora_bias");
                // PEFT writes either key style; both for one module would leave which one counts to chance
                if (ab[which] != null)
                    throw new Lora4jException(file + ": holds both " + PREFIX + module + SUFFIXES[which] + " and its"
                            + (which < 2 ? " .default. twin" : " other spelling (with or without .default and .weight)") + "; keep one");
                ab[which] = st.tensor(key).toArray();
            }
            List<String> known = LoraModel.moduleNames(base);
            for (String module : byModule.keySet())
                if (!known.contains(module))
                    throw new Lora4jException(file + ": module '" + module + "' does not exist in the base model (an adapter made for another model?); modules look like " + known.getFirst());
            LoraModel m = LoraModel.wrap(base, config, lin -> {
                float[][] ab = byModule.get(lin.name());
                if (ab == null || ab[0] == null || ab[1] == null)
                    throw new Lora4jException(file + ": missing " + PREFIX + lin.name() + (ab == null || ab[0] == null ? ".lora_A.weight" : ".lora_B.weight")
                            + " (adapter_config.json targets this module)");
                int r = config.rankFor(lin.name());
                check(file, st, lin, ".lora_A.weight", r, lin.in());
                check(file, st, lin, ".lora_B.weight", lin.out(), r);
                if (config.loraBias()) {
                    if (ab[3] == null) throw new Lora4jException(file + ": missing " + PREFIX + lin.name() + ".lora_B.bias (adapter_config.json sets lora_bias)");
                    if (ab[3].length != lin.out())
                        throw new Lora4jException(file + ": " + PREFIX + lin.name() + ".lora_B.bias has " + ab[3].length + " entries, expected " + lin.out());
                }
                if (config.dora()) {
                    if (ab[2] == null)
                        throw new Lora4jException(file + ": missing " + PREFIX + lin.name() + ".lora_magnitude_vector.weight (adapter_config.json sets use_dora)");
                    String key = magnitudeKey(st, lin.name());
                    if (!Arrays.equals(st.entry(key).shape(), new int[] {lin.out()}))
                        throw new Lora4jException(file + ": tensor '" + key + "' has shape " + Arrays.toString(st.entry(key).shape()) + ", expected ["
                                + lin.out() + "] for " + lin.name() + " (" + lin.in() + " → " + lin.out() + ") of this base model");
                    for (float v : ab[2])
                        if (!(v > 0) || !Float.isFinite(v))
                            throw new Lora4jException(file + ": tensor '" + key + "' holds " + v + "; DoRA's magnitudes are positive and finite");
                }
                return ab;
            });
            for (String module : byModule.keySet())
                if (!m.modules().containsKey(module))
                    throw new Lora4jException(file + ": holds weights for '" + module + "', which adapter_config.json does not target");
            if (config.embeddings().none() && embeddingKeys.isEmpty()) return m;
            TrainedEmbeddings e = TrainedEmbeddings.of(base, config.embeddings(), (key, shape) -> {
                String full = PREFIX + key;
                if (!embeddingKeys.remove(full))
                    throw new Lora4jException(file + ": missing " + full + " (adapter_config.json's modules_to_save or trainable_token_indices names it)");
                if (!Arrays.equals(st.entry(full).shape(), shape))
                    throw new Lora4jException(file + ": tensor '" + full + "' has shape " + Arrays.toString(st.entry(full).shape()) + ", expected " + Arrays.toString(shape));
                float[] v = st.tensor(full).toArray().clone();
                for (float x : v) if (!Float.isFinite(x)) throw new Lora4jException(file + ": tensor '" + full + "' holds " + x);
                return v;
            });
            String tiedHead = PREFIX + TrainedEmbeddings.HEAD + TrainedEmbeddings.ROWS; // PEFT writes a tied head's rows again: they must be the embedding's
            if (e.tiedRows() && embeddingKeys.remove(tiedHead)) {
                float[] rows = e.parameters(base).stream().filter(p -> p.name().endsWith(TrainedEmbeddings.ROWS)).findFirst().orElseThrow().value();
                if (!Arrays.equals(st.tensor(tiedHead).toArray(), rows))
                    throw new Lora4jException(file + ": " + tiedHead + " differs from the input embedding's rows, which this model's head shares");
            }
            if (!embeddingKeys.isEmpty())
                throw new Lora4jException(file + ": holds " + embeddingKeys.iterator().next() + ", which adapter_config.json's modules_to_save and trainable_token_indices do not name");
            return m.withEmbeddings(e);
        }
    }

    private static void check(Path file, SafeTensors st, Linear lin, String suffix, int rows, int cols) {
        String key = keyIn(st, lin.name(), suffix);
        int[] shape = st.entry(key).shape();
        if (!Arrays.equals(shape, new int[] {rows, cols}))
            throw new Lora4jException(file + ": tensor '" + key + "' has shape " + Arrays.toString(shape) + ", expected [" + rows + ", " + cols
                    + "] for " + lin.name() + " (" + lin.in() + " → " + lin.out() + ") of this base model");
    }

    private static final String[] SUFFIXES = {".lora_A.weight", ".lora_B.weight", ".lora_magnitude_vector.weight", ".lora_B.bias"};

    private static String magnitudeKey(SafeTensors st, String module) {
        for (String s : List.of(".lora_magnitude_vector.weight", ".lora_magnitude_vector", ".lora_magnitude_vector.default.weight", ".lora_magnitude_vector.default"))
            if (st.has(PREFIX + module + s)) return PREFIX + module + s;
        return PREFIX + module + SUFFIXES[2];
    }

    private static String keyIn(SafeTensors st, String module, String suffix) {
        String plain = PREFIX + module + suffix;
        if (st.has(plain)) return plain;
        String named = PREFIX + module + suffix.replace(".weight", ".default.weight");
        return st.has(named) ? named : plain;
    }

    /** "base_model.model.X.lora_A.weight" (or ".lora_A.default.weight", or DoRA's magnitude) → "X"; null if not a LoRA key. */
    static String moduleOf(String key) {
        if (!key.startsWith(PREFIX)) return null;
        String rest = key.substring(PREFIX.length());
        for (String s : List.of(".lora_A.weight", ".lora_B.weight", ".lora_A.default.weight", ".lora_B.default.weight",
                ".lora_magnitude_vector.weight", ".lora_magnitude_vector", ".lora_magnitude_vector.default.weight", ".lora_magnitude_vector.default",
                ".lora_B.bias", ".lora_B.default.bias"))
            if (rest.endsWith(s)) return rest.substring(0, rest.length() - s.length());
        return null;
    }
}
