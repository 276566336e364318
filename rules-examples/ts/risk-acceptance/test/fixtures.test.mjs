import { testFixtures } from "@verdict/rules-sdk/testing";

await testFixtures(new URL("../src/rule.ts", import.meta.url), new URL("../fixtures/", import.meta.url));
