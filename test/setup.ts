import '../simulation/polyfills';
