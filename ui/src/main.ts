import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { exposeForTests } from "./lib/camera";

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

exposeForTests();

export default mount(App, { target });
