import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Built into console/dist, which hearth-server serves at /console/ (--console-dir). Everything
// is bundled into hashed local files; no remote content.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  base: "/console/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
