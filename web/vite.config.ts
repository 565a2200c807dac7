// Vite builds the console into web/dist: one hashed JS and CSS bundle under assets/, no CDN.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    // The server sends a CSP without 'unsafe-inline': keep every asset a file, none inlined.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
