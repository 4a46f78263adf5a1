/** The accounts tests use the module's test kit (../testing.ts), also offered to other modules. */
export { Browser, PASSWORD, depsFor, lastLink, makeUser, nextTotp, signedInBrowser, type Res, type TestUser } from '../testing.ts';
