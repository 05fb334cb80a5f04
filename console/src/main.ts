import { mount } from "svelte";
// The desktop app's design tokens (colours, font stack, controls), shared as they are.
import "../../ui/src/app.css";
import "./console.css";
import App from "./App.svelte";

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

export default mount(App, { target });
