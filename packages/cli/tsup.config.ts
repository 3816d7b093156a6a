import { definePackageBuild } from '../../tsup.shared.js';

export default definePackageBuild(import.meta.url);
